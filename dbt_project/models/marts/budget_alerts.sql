{#-
  One row per alert the budget sensor raised, with whether its delivery succeeded (latest
  attempt).
-#}
{{ config(materialized='table') }}

with

log as (
    select * from {{ source('budgets', 'budget_alerts') }}
),

latest as (
    select
        *,
        min(recorded_at) over (partition by alert_id) as raised_at,
        count(*) over (partition by alert_id) as delivery_attempts,
        row_number() over (partition by alert_id order by recorded_at desc) as recency
    from log
),

final as (
    select
        alert_id,
        kind,
        budget_id,
        scope,
        scope_id,
        period,
        period_start,
        threshold_pct,
        pct_used,
        {{ money('spent_usd') }} as spent_usd,
        {{ money('limit_usd') }} as limit_usd,
        spent_tokens,
        limit_tokens,
        raised_at,
        delivered,
        outcome as last_delivery_outcome,
        delivery_attempts,
        pseudonym_fingerprint
    from latest
    where recency = 1
)

select * from final
