{#-
  One row per session. A session belongs to the UTC day of its first event, even when it runs past
  midnight. A run rebuilds whole days: the days of its window and the days on which the sessions
  that have an event in its window start (now, or did before: a late event can move a start), with
  every session of those days and all of each session's events, whatever their day. So a day is
  replaced as a whole (a Parquet partition on Spark) and sessions that no longer exist go.
-#}
{{ window_rebuilt(pre_hook="{{ delete_session_days() }}") }}

with

rebuilt_days as (
    {{ session_days_touched() }}
),

candidates as (
    {#- a session starts on a day it has an event on -#}
    select distinct session_id
    from {{ ref('int_events_sessionized') }}
    where
        {{ in_window('event_day') }}
        or event_day in (select rebuilt_days.session_day from rebuilt_days)
),

events as (
    select events.*
    from {{ ref('int_events_sessionized') }} as events
    inner join candidates on events.session_id = candidates.session_id
),

costs as (
    select
        cost_breakdown.session_id,
        sum(cost_breakdown.exact_total_cost_usd) as exact_total_cost_usd
    from {{ ref('cost_breakdown') }} as cost_breakdown
    inner join candidates on cost_breakdown.session_id = candidates.session_id
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
