{#-
  Every accepted event with the session it belongs to: the events (stg_app__events) and their
  sessions (int_event_sessions, one narrow row per event), joined on the event and its day, so a
  reader's filter on event_day reaches both sides. A view: the events' columns are stored once,
  in raw.app_events.
-#}
{{ config(materialized='view') }}

with

events as (
    select * from {{ ref('stg_app__events') }}
),

sessions as (
    select * from {{ ref('int_event_sessions') }}
),

final as (
    select
        events.*,
        sessions.session_id,
        sessions.is_derived_session
    from events
    inner join sessions
        on
        events.event_id = sessions.event_id
        and events.event_day = sessions.event_day
)

select * from final
