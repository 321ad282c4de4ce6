{#-
  One row per UTC day and user. A run rebuilds its window plus one day either side: sessions of
  the day before gain events from the window, and a session can move days when late data arrives.
-#}
{{ window_rebuilt() }}

with

events as (
    select * from {{ ref('int_events_sessionized') }}
    where {{ in_window('event_day') }}
),

sessions as (
    select * from {{ ref('sessions') }}
    where {{ in_window('session_day') }}
),

event_stats as (
    select
        event_day as day,
        user_id,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at,
        cast(count(*) filter (where is_interaction) as bigint) as interaction_count,
        cast(count(*) filter (where event_type = 'llm_call') as bigint) as llm_call_count,
        cast(coalesce(sum(input_tokens), 0) as bigint) as input_tokens,
        cast(coalesce(sum(cached_input_tokens), 0) as bigint) as cached_input_tokens,
        cast(coalesce(sum(output_tokens), 0) as bigint) as output_tokens
    from events
    group by all
),

costs as (
    select
        interaction_day as day,
        user_id,
        sum(exact_total_cost_usd) as exact_total_cost_usd
    from {{ ref('cost_breakdown') }}
    where {{ in_window('interaction_day') }}
    group by all
),

session_stats as (
    select
        session_day as day,
        user_id,
        cast(count(*) as bigint) as session_count
    from sessions
    group by all
),

final as (
    select
        coalesce(event_stats.day, session_stats.day) as day,
        coalesce(event_stats.user_id, session_stats.user_id) as user_id,
        coalesce(session_stats.session_count, 0) as session_count,
        coalesce(event_stats.interaction_count, 0) as interaction_count,
        coalesce(event_stats.llm_call_count, 0) as llm_call_count,
        coalesce(event_stats.input_tokens, 0) as input_tokens,
        coalesce(event_stats.cached_input_tokens, 0) as cached_input_tokens,
        coalesce(event_stats.output_tokens, 0) as output_tokens,
        {{ money('coalesce(costs.exact_total_cost_usd, 0)') }} as total_cost_usd,
        {{ exact_money('coalesce(costs.exact_total_cost_usd, 0)') }} as exact_total_cost_usd,
        event_stats.first_event_at,
        event_stats.last_event_at
    from event_stats
    full outer join session_stats
        on event_stats.day = session_stats.day and event_stats.user_id = session_stats.user_id
    left join costs
        on coalesce(event_stats.day, session_stats.day) = costs.day
        and coalesce(event_stats.user_id, session_stats.user_id) = costs.user_id
)

select * from final
