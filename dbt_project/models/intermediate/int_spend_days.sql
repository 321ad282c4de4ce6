{#-
  Spend per UTC day and everything a budget can be scoped to but a single call (user, session,
  project, API key): cost_breakdown joined to interactions and summed, one row for many calls.
  int_budget_spend sums a month from these rows instead of joining a month of calls each run.
  Rebuilt by window with cost_breakdown; its first build (a warehouse from before it) reads all
  the costs.
-#}
{{ window_rebuilt() }}

with

cost_breakdown as (
    select
        event_id,
        interaction_day,
        user_id,
        session_id,
        exact_total_cost_usd
    from {{ ref('cost_breakdown') }}
    {%- if is_incremental() %}
    where {{ in_window() }}
    {%- endif %}
),

interactions as (
    select
        event_id,
        project_id,
        api_key_id,
        input_tokens,
        output_tokens
    from {{ ref('interactions') }}
    {%- if is_incremental() %}
    where {{ in_window() }}
    {%- endif %}
),

final as (
    select
        cost_breakdown.interaction_day,
        cost_breakdown.user_id,
        cost_breakdown.session_id,
        interactions.project_id,
        interactions.api_key_id,
        {{ exact_money('sum(cost_breakdown.exact_total_cost_usd)') }} as exact_total_cost_usd,
        cast(sum(
            coalesce(interactions.input_tokens, 0) + coalesce(interactions.output_tokens, 0)
        ) as bigint) as tokens
    from cost_breakdown
    inner join interactions on cost_breakdown.event_id = interactions.event_id
    group by
        cost_breakdown.interaction_day,
        cost_breakdown.user_id,
        cost_breakdown.session_id,
        interactions.project_id,
        interactions.api_key_id
)

select * from final
