{#-
  One row per session. A session belongs to the UTC day of its first event, even when it runs past
  midnight. A run rebuilds whole days: the days of its window and the days on which the sessions
  that have an event in its window start (now, or did before: a late event can move a start), with
  every session of those days and all of each session's events, whatever their day. So a day is
  replaced as a whole (a Parquet partition on Spark) and sessions that no longer exist go. The
  sessions and their days come from the session-day index (int_session_days); events, their
  sessions and costs are read on those days only.
-#}
{{ window_rebuilt(pre_hook="{{ delete_session_days() }}") }}

with

rebuilt_days as (
    {{ session_days_touched() }}
),

candidates as (
    {#- a session starts on a day it has an event on -#}
    select distinct session_days.session_id
    from {{ ref('int_session_days') }} as session_days
    where
        {{ in_window('session_days.event_day') }}
        or session_days.event_day in (select rebuilt_days.session_day from rebuilt_days)
),

candidate_days as (
    {#- every day on which a candidate session has an event: the days of events and costs read -#}
    select distinct session_days.event_day
    from {{ ref('int_session_days') }} as session_days
    where session_days.session_id in (select candidates.session_id from candidates)
),

event_sessions as (
    select event_sessions.*
    from {{ ref('int_event_sessions') }} as event_sessions
    where
        event_sessions.event_day in (select candidate_days.event_day from candidate_days)
        and event_sessions.session_id in (select candidates.session_id from candidates)
),

events as (
    {#- the events of those sessions, each side of the join read on the candidate days only (a
        filter on int_events_sessionized, a view, would reach the join after it: every event
        of all history joined) -#}
    select
        stg_events.*,
        event_sessions.session_id,
        event_sessions.is_derived_session
    from event_sessions
    inner join {{ ref('stg_app__events') }} as stg_events
        on
        event_sessions.event_id = stg_events.event_id
        and event_sessions.event_day = stg_events.event_day
    where stg_events.event_day in (select candidate_days.event_day from candidate_days)
),

costs as (
    select
        cost_breakdown.session_id,
        sum(cost_breakdown.exact_total_cost_usd) as exact_total_cost_usd
    from {{ ref('cost_breakdown') }} as cost_breakdown
    where
        cost_breakdown.interaction_day in (select candidate_days.event_day from candidate_days)
        and cost_breakdown.session_id in (select candidates.session_id from candidates)
    group by cost_breakdown.session_id
),

aggregated as (
    select
        session_id,
        min(user_id) as user_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        cast(min(occurred_at) as date) as session_day,
        bool_or(is_derived_session) as is_derived,
        bool_or(event_type = 'session_start') as has_session_start,
        bool_or(event_type = 'session_end') as has_session_end,
        cast(count(*) filter (where is_interaction) as bigint) as interaction_count,
        cast(count(*) filter (where event_type = 'llm_call') as bigint) as llm_call_count,
        cast(coalesce(sum(input_tokens), 0) as bigint) as input_tokens,
        cast(coalesce(sum(output_tokens), 0) as bigint) as output_tokens
    from events
    group by session_id
),

final as (
    select
        aggregated.*,
        {{ money('coalesce(costs.exact_total_cost_usd, 0)') }} as total_cost_usd
    from aggregated
    left join costs on aggregated.session_id = costs.session_id
    where
        {{ in_window('aggregated.session_day') }}
        or aggregated.session_day in (select rebuilt_days.session_day from rebuilt_days)
)

select * from final
