{#-
  Closed months, frozen, with later corrections as rows of their own (append-only; nothing here is
  ever updated or deleted).

  A month closes once the data reaches `month_close_grace_days` past its last day (the latest day of
  app or provider data, so backfills close months the same way as daily runs). When it closes, one
  `close` row per provider records the application's AI cost and the provider's billed cost as known
  then. When a later build finds different totals for a closed month (a provider correction, a
  rebuilt day), it appends a `correction` row with the difference; the sum of a month's rows is its
  current figure and its `close` row what was reported at close.
  Sources are the daily aggregates, which archival never touches.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail'
) }}

with

model_daily as (
    select * from {{ ref('model_daily') }}
),

provider_costs_daily as (
    select * from {{ ref('provider_costs_daily') }}
),

{% if is_incremental() %}
recorded_rows as (
    select * from {{ this }}
),
{% endif %}

data_reach as (
    select
        greatest(
            (select max(day) from model_daily),
            (select max(day) from provider_costs_daily)
        ) as as_of_day
),

app_costs as (
    select
        cast(date_trunc('month', day) as date) as month_start,
        coalesce(provider, 'unknown') as provider,
        sum(cost_usd) as app_ai_cost_usd
    from model_daily
    group by all
),

billed_costs as (
    select
        cast(date_trunc('month', day) as date) as month_start,
        provider,
        sum(billed_cost_usd) as provider_billed_cost_usd
    from provider_costs_daily
    group by all
),

current_totals as (
    select
        coalesce(app_costs.month_start, billed_costs.month_start) as month_start,
        coalesce(app_costs.provider, billed_costs.provider) as provider,
        coalesce(app_costs.app_ai_cost_usd, 0) as app_ai_cost_usd,
        coalesce(billed_costs.provider_billed_cost_usd, 0) as provider_billed_cost_usd
    from app_costs
    full outer join billed_costs
        on app_costs.month_start = billed_costs.month_start
        and app_costs.provider = billed_costs.provider
),

closed_totals as (
    select current_totals.*
    from current_totals
    cross join data_reach
    where
        last_day(current_totals.month_start) + {{ var('month_close_grace_days') }}
        <= data_reach.as_of_day
),

recorded as (
    {% if is_incremental() %}
        select
            month_start,
            provider,
            sum(app_ai_cost_usd) as app_ai_cost_usd,
            sum(provider_billed_cost_usd) as provider_billed_cost_usd
        from recorded_rows
        group by all
    {% else %}
        select
            cast(null as date) as month_start,
            cast(null as {{ text_type() }}) as provider,
            cast(null as decimal(18, 9)) as app_ai_cost_usd,
            cast(null as decimal(18, 9)) as provider_billed_cost_usd
        where false
    {% endif %}
),

changes as (
    select
        coalesce(closed_totals.month_start, recorded.month_start) as month_start,
        coalesce(closed_totals.provider, recorded.provider) as provider,
        case when recorded.month_start is null then 'close' else 'correction' end as row_type,
        coalesce(closed_totals.app_ai_cost_usd, 0)
        - coalesce(recorded.app_ai_cost_usd, 0) as app_ai_cost_usd,
        coalesce(closed_totals.provider_billed_cost_usd, 0)
        - coalesce(recorded.provider_billed_cost_usd, 0) as provider_billed_cost_usd
    from closed_totals
    full outer join recorded
        on closed_totals.month_start = recorded.month_start
        and closed_totals.provider = recorded.provider
),

final as (
    select
        md5(
            concat_ws('|', changes.month_start, changes.provider, changes.row_type, now())
        ) as monthly_close_id,
        changes.month_start,
        changes.provider,
        changes.row_type,
        {{ money('changes.app_ai_cost_usd') }} as app_ai_cost_usd,
        {{ money('changes.provider_billed_cost_usd') }} as provider_billed_cost_usd,
        data_reach.as_of_day,
        {{ utc_now() }} as recorded_at
    from changes
    cross join data_reach
    where
        changes.row_type = 'close'
        or changes.app_ai_cost_usd <> 0
        or changes.provider_billed_cost_usd <> 0
)

select * from final
