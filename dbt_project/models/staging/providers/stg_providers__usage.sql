with

source as (
    select * from {{ source('providers', 'provider_usage') }}
),

model_aliases as (
    select * from {{ ref('stg_catalog__model_aliases') }}
),

renamed as (
    select
        source.provider,
        source.day,
        source.endpoint,
        source.model as reported_model,
        coalesce(model_aliases.canonical_model, source.model) as canonical_model,
        source.project_id,
        source.api_key_id,
        source.service_tier,
        source.is_batch,
        source.context_window,
        source.input_tokens,
        source.cached_input_tokens,
        source.cache_write_tokens,
        source.output_tokens,
        source.requests,
        source.web_search_requests,
        coalesce(source.input_audio_tokens, 0) as input_audio_tokens,
        coalesce(source.output_audio_tokens, 0) as output_audio_tokens,
        source.pulled_at
    from source
    left join model_aliases
        on source.provider = model_aliases.provider and source.model = model_aliases.model
)

select * from renamed
