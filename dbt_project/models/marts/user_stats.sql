{#-
  One row per user, rebuilt from daily_stats (one small row per day and user, never the raw
  events). Month to date is the calendar month (UTC) of the latest day in the warehouse, as_of_day.
-#}
with

daily_stats as (
    select * from {{ ref('daily_stats') }}
),

as_of as (
    select max(day) as as_of_day from daily_stats
),

final as (
    select
        daily_stats.user_id,
        min(daily_stats.first_event_at) as first_seen_at,
        max(daily_stats.last_event_at) as last_seen_at,
        cast(sum(daily_stats.session_count) as bigint) as lifetime_sessions,
        cast(sum(daily_stats.interaction_count) as bigint) as lifetime_interactions,
        cast(sum(daily_stats.llm_call_count) as bigint) as lifetime_llm_calls,
        cast(sum(daily_stats.input_tokens) as bigint) as lifetime_input_tokens,
        cast(sum(daily_stats.output_tokens) as bigint) as lifetime_output_tokens,
        {{ money('sum(daily_stats.exact_total_cost_usd)') }} as lifetime_cost_usd,
        {{ money("coalesce(sum(daily_stats.exact_total_cost_usd) filter (
            where daily_stats.day >= date_trunc('month', as_of.as_of_day)), 0)") }}
            as month_to_date_cost_usd,
        any_value(as_of.as_of_day) as as_of_day
    from daily_stats
    cross join as_of
    group by daily_stats.user_id
)

select * from final
