{#-
  One row per session and UTC day on which it has an event: the index by which marts.sessions
  finds the days a session spans without reading every event of all history
  (int_event_sessions holds one row per event; this, one per session and day). Rebuilt by
  window with its input, so it always says what the events say; its first build (a warehouse
  from before it) reads all events.
-#}
{{ window_rebuilt() }}

with

events as (
    select
        session_id,
        event_day
    from {{ ref('int_event_sessions') }}
    {%- if is_incremental() %}
    where {{ in_window('event_day') }}
    {%- endif %}
),

final as (
    select distinct
        session_id,
        event_day
    from events
)

select * from final
