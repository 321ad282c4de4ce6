{#-
  What the application logged vs what the provider reports, per day, provider, canonical model and
  API key. Status:
  - out_of_scope: usage on a key outside the parity scope (vars parity_scope_api_keys and
    parity_scope_projects; by default the keys the application has ever logged, archived days
    included: int_logged_scope_days), or a provider
    with no report for that day (no key);
  - missing_app: the provider reports usage, the application logged none;
  - missing_provider: the application logged usage, the provider reports none that day;
  - fail / warn / ok: the larger of the input and output differences, (app - provider) / provider
    in percent, against parity_fail_pct / parity_warn_pct.
-#}
{{ window_rebuilt() }}

{%- set scope_keys = var('parity_scope_api_keys') %}
{%- set scope_projects = var('parity_scope_projects') %}

with

interactions as (
    select * from {{ ref('interactions') }}
    where
        interaction_type = 'llm_call'
        and provider in ('openai', 'anthropic')
        and {{ in_window('interaction_day') }}
),

provider_usage as (
    select * from {{ ref('provider_usage_daily') }}
    where {{ in_window() }}
),

scope as (
    {%- if scope_keys %}
    {%- set literals = [] %}
    {%- for k in scope_keys %}{% do literals.append("'" ~ k ~ "'") %}{% endfor %}
        select {{ rows_of(literals) }}
            as api_key_id
    {%- else %}
        select distinct api_key_id from {{ ref('int_logged_scope_days') }}
        where api_key_id is not null
    {%- endif %}
    {%- if scope_projects %}
        {%- set projects = [] %}
        {%- for p in scope_projects %}{% do projects.append("'" ~ p ~ "'") %}{% endfor %}
        union
        select distinct api_key_id from {{ ref('provider_usage_daily') }}
        where project_id in ({{ projects | join(', ') }})
    {%- endif %}
),

reported_days as (
    select distinct
        day,
        provider
    from provider_usage
),

app as (
    select
        interaction_day as day,
        provider,
        canonical_model,
        api_key_id,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        count(*) as requests
    from interactions
    group by all
),

reported as (
    select
        day,
        provider,
        canonical_model,
        api_key_id,
        sum(input_tokens) as input_tokens,
        sum(output_tokens) as output_tokens,
        sum(requests) as requests
    from provider_usage
    group by all
),

joined as (
    select
        coalesce(app.day, reported.day) as day,
        coalesce(app.provider, reported.provider) as provider,
        coalesce(app.canonical_model, reported.canonical_model) as canonical_model,
        coalesce(app.api_key_id, reported.api_key_id) as api_key_id,
        cast(app.input_tokens as bigint) as app_input_tokens,
        cast(reported.input_tokens as bigint) as provider_input_tokens,
        cast(app.output_tokens as bigint) as app_output_tokens,
        cast(reported.output_tokens as bigint) as provider_output_tokens,
        cast(app.requests as bigint) as app_requests,
        cast(reported.requests as bigint) as provider_requests
    from app
    full outer join reported
        on app.day = reported.day
        and app.provider = reported.provider
        and app.canonical_model = reported.canonical_model
        and app.api_key_id is not distinct from reported.api_key_id
),

measured as (
    select
        joined.*,
        case
            when joined.provider_input_tokens > 0
                then
                    100.0 * (coalesce(joined.app_input_tokens, 0) - joined.provider_input_tokens)
                    / joined.provider_input_tokens
            when coalesce(joined.app_input_tokens, 0) = 0 then 0.0
        end as input_diff_pct,
        case
            when joined.provider_output_tokens > 0
                then
                    100.0
                    * (coalesce(joined.app_output_tokens, 0) - joined.provider_output_tokens)
                    / joined.provider_output_tokens
            when coalesce(joined.app_output_tokens, 0) = 0 then 0.0
        end as output_diff_pct,
        case
            when joined.provider_requests > 0
                then
                    100.0 * (coalesce(joined.app_requests, 0) - joined.provider_requests)
                    / joined.provider_requests
        end as requests_diff_pct,
        joined.api_key_id in (select scope.api_key_id from scope) as is_in_scope,
        exists(
            select 1 from reported_days
            where reported_days.day = joined.day and reported_days.provider = joined.provider
        ) as is_provider_reported
    from joined
),

final as (
    select
        day,
        provider,
        canonical_model,
        api_key_id,
        app_input_tokens,
        provider_input_tokens,
        app_output_tokens,
        provider_output_tokens,
        app_requests,
        provider_requests,
        cast(input_diff_pct as double) as input_diff_pct,
        cast(output_diff_pct as double) as output_diff_pct,
        cast(requests_diff_pct as double) as requests_diff_pct,
        case
            when not coalesce(is_in_scope, false) or not is_provider_reported then 'out_of_scope'
            when app_input_tokens is null then 'missing_app'
            when provider_input_tokens is null then 'missing_provider'
            when greatest(abs(input_diff_pct), abs(output_diff_pct)) > {{ var('parity_fail_pct') }}
                then 'fail'
            when greatest(abs(input_diff_pct), abs(output_diff_pct)) > {{ var('parity_warn_pct') }}
                then 'warn'
            else 'ok'
        end as status,
        case
            when provider_requests is null or app_requests is null then null
            when abs(requests_diff_pct) > {{ var('parity_fail_pct') }} then 'fail'
            when abs(requests_diff_pct) > {{ var('parity_warn_pct') }} then 'warn'
            else 'ok'
        end as requests_status
    from measured
)

select * from final
