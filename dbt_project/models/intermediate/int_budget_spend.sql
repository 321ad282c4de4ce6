{#-
  Spend per budget, scope id and period, built incrementally so that a daily run reads one month of
  costs, not all history: a month of per-day spend rows (int_spend_days), and single calls only
  for budgets scoped to one call (interaction scope). A run rebuilds every period that starts
  between the first day of its window's first month and the window's end: month periods from all
  their days, day periods, and
  session periods (a session's costs on the day after the window included, for sessions that run
  past midnight). Session and interaction scopes keep only the rows that crossed the budget's
  lowest threshold when their days were built (otherwise one row per session or call).
  Limits, shares and projections are applied in marts.budget_status, from the current budgets.
-#}
{{ window_rebuilt() }}

{#- the costs a run needs: its months, and the day after (sessions past midnight) -#}
{%- set first_cost_day = window_first_day(model_window()) -%}
{%- set last_cost_day -%} last_day({{ window_end() }}) + 1 {%- endset %}

with

budgets as (
    select * from {{ source('budgets', 'budgets') }}
),

spend_days as (
    {#- a month of spend in per-day rows (int_spend_days), not a month of calls joined again #}
    select
        cast(null as string) as event_id,
        interaction_day,
        user_id,
        session_id,
        project_id,
        api_key_id,
        exact_total_cost_usd,
        tokens
    from {{ ref('int_spend_days') }}
    where interaction_day between {{ first_cost_day }} and {{ last_cost_day }}
),

interaction_budgets as (
    select distinct true as is_present
    from budgets
    where scope = 'interaction'
),

call_costs as (
    {#- single calls, only for budgets scoped to one call (none: nothing is read) #}
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
    inner join {{ ref('interactions') }} as interactions
        on cost_breakdown.event_id = interactions.event_id
    inner join interaction_budgets on true
    where
        cost_breakdown.interaction_day between {{ first_cost_day }} and {{ last_cost_day }}
        and interactions.interaction_day between {{ first_cost_day }} and {{ last_cost_day }}
),

sessions as (
    select
        session_id,
        session_day
    from {{ ref('sessions') }}
    {#- a session with costs on the run's days has an event on or after their first day: older
        sessions are skipped by their row groups' ranges instead of read from all history #}
    where ended_at >= {{ window_first_day(model_window()) }}
),

costs as (
    select
        *,
        false as is_call
    from spend_days
    union all
    select
        *,
        true as is_call
    from call_costs
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
    inner join costs on (budgets.scope = 'interaction') = costs.is_call
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

final as (
    select
        budget_id,
        scope,
        scope_id,
        period,
        period_start,
        {{ exact_money('spent_usd') }} as exact_spent_usd,
        spent_tokens
    from aggregated
    where
        {{ in_window() }}
        and (
            scope not in ('session', 'interaction')
            or {{ list_smallest('thresholds') }}
            <= {{ pct_of_limit('spent_usd', 'spent_tokens', 'limit_usd', 'limit_tokens') }}
        )
)

select * from final
