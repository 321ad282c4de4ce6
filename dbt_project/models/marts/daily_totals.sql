{#-
  One row per UTC day: volumes, latency percentiles, error and cache-hit rates, cost by
  category.
-#}
{{ window_rebuilt() }}

with

interactions as (
    select * from {{ ref('interactions') }}
    where {{ in_window('interaction_day') }}
),

sessions as (
    select * from {{ ref('sessions') }}
    where {{ in_window('session_day') }}
),

interaction_stats as (
    select
        interaction_day as day,
        cast(count(distinct user_id) as bigint) as active_users,
        cast(count(*) as bigint) as interaction_count,
        cast(count(*) filter (where interaction_type = 'llm_call') as bigint) as llm_call_count,
        cast(coalesce(sum(input_tokens), 0) as bigint) as input_tokens,
        cast(coalesce(sum(cached_input_tokens), 0) as bigint) as cached_input_tokens,
        cast(coalesce(sum(output_tokens), 0) as bigint) as output_tokens,
        {{ quantile('duration_ms', '0.50') }} filter (where interaction_type = 'llm_call')
            as llm_latency_p50_ms,
        {{ quantile('duration_ms', '0.95') }} filter (where interaction_type = 'llm_call')
            as llm_latency_p95_ms,
        {{ quantile('duration_ms', '0.99') }} filter (where interaction_type = 'llm_call')
            as llm_latency_p99_ms,
        count(*) filter (where interaction_type = 'llm_call' and status = 'error')
        / nullif(count(*) filter (where interaction_type = 'llm_call'), 0) as llm_error_rate,
        sum(cached_input_tokens) filter (where interaction_type = 'llm_call')
        / nullif(sum(input_tokens) filter (where interaction_type = 'llm_call'), 0)
            as cache_hit_rate
    from interactions
    group by all
),

costs as (
    select
        interaction_day as day,
        sum(exact_ai_tokens_cost_usd) as ai,
        sum(exact_db_ops_cost_usd) as db_ops,
        sum(exact_api_calls_cost_usd) as api_calls,
        sum(exact_compute_cost_usd) as compute,
        sum(exact_other_cost_usd) as other,
        sum(exact_total_cost_usd) as total,
        cast(count(*) filter (where is_unpriced_llm_call) as bigint) as unpriced_llm_call_count
    from {{ ref('cost_breakdown') }}
    where {{ in_window('interaction_day') }}
    group by all
),

session_stats as (
    select
        session_day as day,
        cast(count(*) as bigint) as session_count
    from sessions
    group by all
),

final as (
    select
        coalesce(interaction_stats.day, session_stats.day) as day,
        coalesce(interaction_stats.active_users, 0) as active_users,
        coalesce(session_stats.session_count, 0) as session_count,
        coalesce(interaction_stats.interaction_count, 0) as interaction_count,
        coalesce(interaction_stats.llm_call_count, 0) as llm_call_count,
        coalesce(interaction_stats.input_tokens, 0) as input_tokens,
        coalesce(interaction_stats.cached_input_tokens, 0) as cached_input_tokens,
        coalesce(interaction_stats.output_tokens, 0) as output_tokens,
        {{ money('coalesce(costs.ai, 0)') }} as ai_tokens_cost_usd,
        {{ money('coalesce(costs.db_ops, 0)') }} as db_ops_cost_usd,
        {{ money('coalesce(costs.api_calls, 0)') }} as api_calls_cost_usd,
        {{ money('coalesce(costs.compute, 0)') }} as compute_cost_usd,
        {{ money('coalesce(costs.other, 0)') }} as other_cost_usd,
        {{ money('coalesce(costs.total, 0)') }} as total_cost_usd,
        coalesce(costs.unpriced_llm_call_count, 0) as unpriced_llm_call_count,
        interaction_stats.llm_latency_p50_ms,
        interaction_stats.llm_latency_p95_ms,
        interaction_stats.llm_latency_p99_ms,
        cast(interaction_stats.llm_error_rate as double) as llm_error_rate,
        cast(interaction_stats.cache_hit_rate as double) as cache_hit_rate
    from interaction_stats
    full outer join session_stats on interaction_stats.day = session_stats.day
    left join costs on coalesce(interaction_stats.day, session_stats.day) = costs.day
)

select * from final
