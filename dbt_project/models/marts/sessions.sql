{#-
  One row per session. A session belongs to the UTC day of its first event, even when it runs past
  midnight. A run rebuilds every session that has an event in its window (with all of that
  session's events, whatever their day) and drops sessions of its window that no longer exist.
-#}
{{ window_rebuilt(pre_hook="{% if is_incremental() %}
        delete from {{ this }}
        where {{ in_window() }}
           or session_id in (
               select session_id from {{ ref('int_events_sessionized') }}
               where {{ in_window('event_day') }}
           )
        {% endif %}") }}

with

touched as (
    select distinct session_id
    from {{ ref('int_events_sessionized') }}
    where {{ in_window('event_day') }}
),

events as (
    select events.*
    from {{ ref('int_events_sessionized') }} as events
    inner join touched on events.session_id = touched.session_id
),

costs as (
    select
        cost_breakdown.session_id,
        sum(cost_breakdown.exact_total_cost_usd) as exact_total_cost_usd
    from {{ ref('cost_breakdown') }} as cost_breakdown
    inner join touched on cost_breakdown.session_id = touched.session_id
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
)

select * from final
