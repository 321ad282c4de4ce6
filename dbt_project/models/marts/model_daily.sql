{#-
  Model comparison per UTC day, provider and canonical model: volume, cost, latency, errors and
  retries, cache use and what it saved, and answer quality from feedback events.
  Feedback counts on the day of the call it refers to (ref_event_id), so a run rebuilds the day
  before its window too (feedback arrives after the answer).
-#}
{{ window_rebuilt() }}

with

calls as (
    select
        interactions.*,
        cost_breakdown.exact_ai_tokens_cost_usd,
        cost_breakdown.exact_cache_savings_usd,
        cost_breakdown.is_unpriced_llm_call
    from {{ ref('interactions') }} as interactions
    inner join {{ ref('cost_breakdown') }} as cost_breakdown
        on interactions.event_id = cost_breakdown.event_id
    where
        interactions.interaction_type = 'llm_call'
        and {{ in_window('interactions.interaction_day') }}
        {#- an interaction and its cost share their day: both sides read the window only #}
        and {{ in_window('cost_breakdown.interaction_day') }}
),

feedback as (
    select
        ref_event_id,
        action,
        quality_score,
        rating
    from {{ ref('int_events_sessionized') }}
    where
        event_type = 'feedback'
        and ref_event_id is not null
        and {{ in_window('event_day', extra_after=1) }}
),

call_feedback as (
    select
        calls.interaction_day,
        calls.provider,
        calls.canonical_model,
        count(*) as feedback_count,
        count(*) filter (where feedback.action = 'approved') as approved_count,
        count(*) filter (where feedback.action = 'edited') as edited_count,
        count(*) filter (where feedback.action = 'regenerated') as regenerated_count,
        count(*) filter (where feedback.action = 'abandoned') as abandoned_count,
        avg(feedback.quality_score) as mean_quality_score,
        avg(feedback.rating) as mean_rating
    from feedback
    inner join calls on feedback.ref_event_id = calls.event_id
    group by all
),

per_model as (
    select
        interaction_day as day,
        provider,
        canonical_model,
        count(*) as calls,
        count(*) filter (where status = 'error') as error_calls,
        count(*) filter (where status = 'canceled') as canceled_calls,
        count(*) filter (where is_retry) as retry_calls,
        count(*) filter (where is_unpriced_llm_call) as unpriced_calls,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(output_tokens) as output_tokens,
        sum(exact_ai_tokens_cost_usd) as exact_cost_usd,
        sum(exact_ai_tokens_cost_usd) filter (where status <> 'ok') as exact_failed_cost_usd,
        sum(exact_ai_tokens_cost_usd) filter (where is_retry) as exact_retry_cost_usd,
        sum(exact_cache_savings_usd) as exact_cache_savings_usd,
        {{ quantile('duration_ms', '0.50') }} as latency_p50_ms,
        {{ quantile('duration_ms', '0.95') }} as latency_p95_ms,
        {{ quantile('duration_ms', '0.99') }} as latency_p99_ms
    from calls
    group by all
),

final as (
    select
        per_model.day,
        per_model.provider,
        per_model.canonical_model,
        cast(per_model.calls as bigint) as calls,
        cast(per_model.input_tokens as bigint) as input_tokens,
        cast(per_model.cached_input_tokens as bigint) as cached_input_tokens,
        cast(per_model.output_tokens as bigint) as output_tokens,
        {{ money('per_model.exact_cost_usd') }} as cost_usd,
        {{ money("1000 * per_model.exact_cost_usd"
                 ~ " / nullif(per_model.input_tokens + per_model.output_tokens, 0)") }}
            as cost_per_1k_tokens_usd,
        per_model.latency_p50_ms,
        per_model.latency_p95_ms,
        per_model.latency_p99_ms,
        cast(per_model.error_calls as bigint) as error_calls,
        cast(per_model.canceled_calls as bigint) as canceled_calls,
        cast(per_model.retry_calls as bigint) as retry_calls,
        cast(per_model.error_calls as double) / per_model.calls as error_rate,
        cast(per_model.retry_calls as double) / per_model.calls as retry_rate,
        {{ money('coalesce(per_model.exact_failed_cost_usd, 0)') }} as failed_calls_cost_usd,
        {{ money('coalesce(per_model.exact_retry_cost_usd, 0)') }} as retries_cost_usd,
        cast(per_model.cached_input_tokens as double)
        / nullif(per_model.input_tokens, 0) as cache_hit_rate,
        {{ money('per_model.exact_cache_savings_usd') }} as cache_savings_usd,
        cast(per_model.unpriced_calls as bigint) as unpriced_calls,
        cast(coalesce(call_feedback.feedback_count, 0) as bigint) as feedback_count,
        cast(coalesce(call_feedback.approved_count, 0) as bigint) as approved_count,
        cast(call_feedback.approved_count as double) / call_feedback.feedback_count
            as acceptance_rate,
        cast(call_feedback.edited_count as double) / call_feedback.feedback_count as edit_rate,
        cast(call_feedback.regenerated_count as double) / call_feedback.feedback_count
            as regeneration_rate,
        cast(call_feedback.abandoned_count as double) / call_feedback.feedback_count
            as abandonment_rate,
        call_feedback.mean_quality_score,
        call_feedback.mean_rating,
        {{ money("per_model.exact_cost_usd / nullif(call_feedback.approved_count, 0)") }}
            as cost_per_accepted_answer_usd
    from per_model
    left join call_feedback
        on per_model.day = call_feedback.interaction_day
        and per_model.provider is not distinct from call_feedback.provider
        and per_model.canonical_model = call_feedback.canonical_model
)

select * from final
