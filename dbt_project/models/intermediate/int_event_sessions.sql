{#-
  The session of every accepted event: one narrow row per event (its id, day and session), which
  int_events_sessionized (a view) joins to the events. Explicit session_id is kept. Session-less
  events are sessionized per user: a new session starts when more than 30 minutes passed since
  that user's previous session-less event. A derived session's id is stable: a hash of the user
  and the session's first event time.
  A run rebuilds the events of its window; one day before it is read as context, so a session-less
  chain that runs without a 30-minute gap for more than a whole day is split at that boundary.

  Until 2026-12 int_events_sessionized was a table holding every event's columns and its session.
  On a warehouse built then, this model's first build takes the sessions of the days outside its
  window from that table (they were derived run by run, at those runs' window boundaries, and
  deriving them again over all days at once could give a chain another id); then that table
  becomes the view.
-#}
{{ window_rebuilt() }}
{%- set earlier_table = none -%}
{#- (a unit test renders the model without `this`: no table of its own to look beside) -#}
{%- if execute and this is not none and not is_incremental() -%}
    {%- set found = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='int_events_sessionized') -%}
    {%- if found is not none and found.is_table -%}
        {%- set earlier_table = found -%}
    {%- endif -%}
{%- endif %}

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
        events.event_id,
        events.event_day,
        coalesce(events.logged_session_id, derived.derived_session_id) as session_id,
        events.logged_session_id is null as is_derived_session
    from events
    left join derived on events.event_id = derived.event_id
    where {{ in_window('events.event_day') }}
)

select * from final
{%- if earlier_table is not none %}
union all
select event_id, event_day, session_id, is_derived_session
from {{ earlier_table }}
where not ({{ in_window('event_day') }})
{%- endif %}
