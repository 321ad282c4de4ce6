{#-
  One row per user and UTC month: daily_stats summed by month, so that marts.user_stats (lifetime
  figures) sums twelve rows a year per user instead of one per active day. A run rebuilds the
  months of daily_stats' window (its days and one either side), whole.
-#}
{{ window_rebuilt() }}

with

daily_stats as (
    select * from {{ ref('daily_stats') }}
    {%- if is_incremental() %}
    {#- every day of the months rebuilt: the window's first month to the last day's month (the
        first build, e.g. of a warehouse from before this model, reads every day) #}
    where
        day between {{ window_first_day(model_window()) }}
        and last_day({{ window_end((model_window() or {}).get('days_after', 0)) }})
    {%- endif %}
),

final as (
    select
        user_id,
        cast(date_trunc('month', day) as date) as month_start,
        max(day) as last_active_day,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at,
        cast(sum(session_count) as bigint) as session_count,
        cast(sum(interaction_count) as bigint) as interaction_count,
        cast(sum(llm_call_count) as bigint) as llm_call_count,
        cast(sum(input_tokens) as bigint) as input_tokens,
        cast(sum(output_tokens) as bigint) as output_tokens,
        {{ exact_money('sum(exact_total_cost_usd)') }} as exact_total_cost_usd
    from daily_stats
    group by user_id, cast(date_trunc('month', day) as date)
)

select * from final
