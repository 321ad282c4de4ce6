{#-
  Spend against every budget, per scope id and period. Periods are UTC calendar days and months,
  or a session's lifetime; "current" is relative to the latest day in the warehouse (as_of_day).
  Month-end projection: spend so far / days elapsed * days in the month (current month only).
  Session and interaction scopes keep only rows that crossed a threshold (they would otherwise
  be one row per session or call).
-#}
{{ config(materialized='table') }}

with

budgets as (
    select * from {{ source('budgets', 'budgets') }}
),

interactions as (
    select event_id, project_id, api_key_id, input_tokens, output_tokens
    from {{ ref('interactions') }}
),

costs as (
    select
        cost_breakdown.event_id,
        cost_breakdown.interaction_day,
        cost_breakdown.user_id,
        cost_breakdown.session_id,
        interactions.project_id,
        interactions.api_key_id,
        cost_breakdown.exact_total_cost_usd,
        coalesce(interactions.input_tokens, 0) + coalesce(interactions.output_tokens, 0) as tokens
    from {{ ref('cost_breakdown') }} as cost_breakdown
    inner join interactions on cost_breakdown.event_id = interactions.event_id
),

sessions as (
    select session_id, session_day from {{ ref('sessions') }}
),

as_of as (
    select max(interaction_day) as as_of_day from costs
),

scoped as (
    select
        budgets.budget_id,
        budgets.scope,
        budgets.period,
        budgets.limit_usd,
        budgets.limit_tokens,
        budgets.thresholds,
        case budgets.scope
            when 'organisation' then 'organisation'
            when 'project' then costs.project_id
            when 'api_key' then costs.api_key_id
            when 'user' then costs.user_id
            when 'session' then costs.session_id
            when 'interaction' then costs.event_id
        end as scope_id,
        budgets.scope_id as wanted_scope_id,
        case budgets.period
            when 'day' then costs.interaction_day
            when 'month' then cast(date_trunc('month', costs.interaction_day) as date)
            when 'session' then coalesce(sessions.session_day, costs.interaction_day)
        end as period_start,
        costs.exact_total_cost_usd,
        costs.tokens
    from budgets
    cross join costs
    left join sessions
        on budgets.period = 'session' and costs.session_id = sessions.session_id
),

aggregated as (
    select
        budget_id,
        scope,
        scope_id,
        period,
        period_start,
        any_value(limit_usd) as limit_usd,
        any_value(limit_tokens) as limit_tokens,
        any_value(thresholds) as thresholds,
        sum(exact_total_cost_usd) as spent_usd,
        cast(sum(tokens) as bigint) as spent_tokens
    from scoped
    where scope_id is not null and (wanted_scope_id is null or scope_id = wanted_scope_id)
    group by budget_id, scope, scope_id, period, period_start
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
        case
            when aggregated.limit_usd is not null
                then 100.0 * aggregated.spent_usd / aggregated.limit_usd
            else 100.0 * aggregated.spent_tokens / aggregated.limit_tokens
        end as pct_used,
        case
            when aggregated.period = 'month'
                and aggregated.period_start = cast(date_trunc('month', as_of.as_of_day) as date)
                then cast(
                    datediff('day', aggregated.period_start, last_day(aggregated.period_start)) + 1
                    as double
                ) / (datediff('day', aggregated.period_start, as_of.as_of_day) + 1)
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
        list_max(list_filter(thresholds, lambda t: t <= pct_used)) as highest_threshold_crossed,
        thresholds,
        is_current_period,
        as_of_day
    from measured
    where
        scope not in ('session', 'interaction')
        or list_min(thresholds) <= pct_used
)

select * from final
