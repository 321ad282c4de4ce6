{#- Provider-reported usage per day, provider, canonical model, project, key and tier. -#}
{{ window_rebuilt() }}

with

usage as (
    select * from {{ ref('stg_providers__usage') }}
    where {{ in_window() }}
),

final as (
    select
        day,
        provider,
        canonical_model,
        project_id,
        api_key_id,
        service_tier,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(cached_input_tokens) as bigint) as cached_input_tokens,
        cast(sum(cache_write_tokens) as bigint) as cache_write_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        cast(sum(requests) as bigint) as requests,
        cast(sum(web_search_requests) as bigint) as web_search_requests,
        cast(sum(input_audio_tokens) as bigint) as input_audio_tokens,
        cast(sum(output_audio_tokens) as bigint) as output_audio_tokens
    from usage
    group by all
)

select * from final
