{#-
  Spend against every budget, per scope id and period. Periods are UTC calendar days and months,
  or a session's lifetime; "current" is relative to the latest day in the warehouse (as_of_day).
  Month-end projection: spend so far / days elapsed * days in the month (current month only).
  Spend comes from int_budget_spend (rebuilt a month at a time), limits and thresholds from the
  current budgets, so a raised budget applies at once. Session and interaction scopes keep only
  rows that crossed a threshold (they would otherwise be one row per session or call).
-#}
{{ config(materialized='table') }}

with

budgets as (
    select * from {{ source('budgets', 'budgets') }}
),

spend as (
    select * from {{ ref('int_budget_spend') }}
),

as_of as (
    select max(interaction_day) as as_of_day from {{ ref('cost_breakdown') }}
),

aggregated as (
    select
        spend.budget_id,
        spend.scope,
        spend.scope_id,
        spend.period,
        spend.period_start,
        budgets.limit_usd,
        budgets.limit_tokens,
        budgets.thresholds,
        spend.exact_spent_usd as spent_usd,
        spend.spent_tokens
    from spend
    inner join budgets
        on spend.budget_id = budgets.budget_id
        and spend.scope = budgets.scope
        and spend.period = budgets.period
),

measured as (
    select
        aggregated.*,
        as_of.as_of_day,
        case
            when aggregated.period = 'day' then aggregated.period_start = as_of.as_of_day
            when aggregated.period = 'month'
                then aggregated.period_start = cast(date_trunc('month', as_of.as_of_day) as date)
            else aggregated.period_start = as_of.as_of_day
        end as is_current_period,
        {{ pct_of_limit(
            'aggregated.spent_usd', 'aggregated.spent_tokens',
            'aggregated.limit_usd', 'aggregated.limit_tokens'
        ) }} as pct_used,
        case
            when
                aggregated.period = 'month'
                and aggregated.period_start = cast(date_trunc('month', as_of.as_of_day) as date)
                then cast(
                    {{ days_between(
                        'aggregated.period_start', 'last_day(aggregated.period_start)'
                    ) }}
                    + 1
                    as double
                ) / ({{ days_between('aggregated.period_start', 'as_of.as_of_day') }} + 1)
            else 1.0
        end as projection_factor
    from aggregated
    cross join as_of
),

final as (
    select
        budget_id,
        scope,
        scope_id,
        period,
        period_start,
        limit_usd,
        limit_tokens,
        {{ money('spent_usd') }} as spent_usd,
        spent_tokens,
        cast(pct_used as double) as pct_used,
        {{ money('spent_usd * projection_factor') }} as projected_usd,
        cast(pct_used * projection_factor as double) as projected_pct,
        {{ list_largest_up_to('thresholds', 'pct_used') }} as highest_threshold_crossed,
        thresholds,
        is_current_period,
        as_of_day
    from measured
    where
        scope not in ('session', 'interaction')
        or {{ list_smallest('thresholds') }} <= pct_used
)

select * from final
