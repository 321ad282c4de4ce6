{#-
  Every accepted event with the session it belongs to.
  Explicit session_id is kept. Session-less events are sessionized per user: a new session starts
  when more than 30 minutes passed since that user's previous session-less event. A derived
  session's id is stable: a hash of the user and the session's first event time.
  A run rebuilds the events of its window; one day before it is read as context, so a session-less
  chain that runs without a 30-minute gap for more than a whole day is split at that boundary.
-#}
{{ window_rebuilt() }}

with

events as (
    select * from {{ ref('stg_app__events') }}
    where {{ in_window(extra_before=1) }}
),

sessionless as (
    select
        event_id,
        user_id,
        occurred_at,
        lag(occurred_at) over (
            partition by user_id order by occurred_at, event_id
        ) as previous_occurred_at
    from events
    where logged_session_id is null
),

gap_flagged as (
    select
        *,
        case
            when previous_occurred_at is null then 1
            when occurred_at - previous_occurred_at > interval 30 minutes then 1
            else 0
        end as starts_session
    from sessionless
),

numbered as (
    select
        *,
        sum(starts_session) over (
            partition by user_id order by occurred_at, event_id
            rows between unbounded preceding and current row
        ) as session_seq
    from gap_flagged
),

derived as (
    select
        event_id,
        'derived-' || md5(
            user_id || '|' || {{ timestamp_text(
                'min(occurred_at) over (partition by user_id, session_seq)'
            ) }}
        ) as derived_session_id
    from numbered
),

final as (
    select
        events.*,
        coalesce(events.logged_session_id, derived.derived_session_id) as session_id,
        events.logged_session_id is null as is_derived_session
    from events
    left join derived on events.event_id = derived.event_id
    where {{ in_window('events.event_day') }}
)

select * from final
