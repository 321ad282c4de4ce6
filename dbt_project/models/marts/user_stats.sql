{#-
  One row per user, from int_user_months (daily_stats summed by month: twelve small rows a year
  per user, never the raw events nor every day). Month to date is the calendar month (UTC) of the
  latest day in the warehouse, as_of_day.
-#}
with

user_months as (
    select * from {{ ref('int_user_months') }}
),

as_of as (
    select max(last_active_day) as as_of_day from user_months
),

final as (
    select
        user_months.user_id,
        min(user_months.first_event_at) as first_seen_at,
        max(user_months.last_event_at) as last_seen_at,
        cast(sum(user_months.session_count) as bigint) as lifetime_sessions,
        cast(sum(user_months.interaction_count) as bigint) as lifetime_interactions,
        cast(sum(user_months.llm_call_count) as bigint) as lifetime_llm_calls,
        cast(sum(user_months.input_tokens) as bigint) as lifetime_input_tokens,
        cast(sum(user_months.output_tokens) as bigint) as lifetime_output_tokens,
        {{ money('sum(user_months.exact_total_cost_usd)') }} as lifetime_cost_usd,
        {{ money("coalesce(sum(user_months.exact_total_cost_usd) filter (
            where user_months.month_start
                = cast(date_trunc('month', as_of.as_of_day) as date)), 0)") }}
            as month_to_date_cost_usd,
        any_value(as_of.as_of_day) as as_of_day
    from user_months
    cross join as_of
    group by user_months.user_id
)

select * from final
