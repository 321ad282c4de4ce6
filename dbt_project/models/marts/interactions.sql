{#- One row per interaction event (llm_call, db_op, api_call, compute, cost_event). -#}
{{ window_rebuilt() }}

with

events as (
    select * from {{ ref('int_events_sessionized') }}
    where
        {{ in_window('event_day') }}
        and is_interaction
),

model_aliases as (
    select * from {{ ref('stg_catalog__model_aliases') }}
),

final as (
    select
        events.event_id,
        events.session_id,
        events.user_id,
        events.occurred_at,
        events.event_day as interaction_day,
        events.event_type as interaction_type,
        events.provider,
        events.model,
        coalesce(model_aliases.canonical_model, events.model) as canonical_model,
        coalesce(model_aliases.is_priced_model, false) as is_known_model,
        events.service_tier,
        events.project_id,
        events.api_key_id,
        events.duration_ms,
        events.status,
        events.error_code,
        events.retry_of,
        events.retry_of is not null as is_retry,
        events.is_stream,
        events.input_tokens,
        events.cached_input_tokens,
        events.cache_write_tokens,
        events.cache_write_1h_tokens,
        events.output_tokens,
        events.reasoning_tokens,
        events.operation,
        events.rows_read,
        events.rows_written,
        events.service,
        events.endpoint,
        events.units,
        events.memory_mb,
        events.amount_usd,
        events.category,
        events.is_derived_session,
        events.app,
        events.metadata,
        events.event_source
    from events
    left join model_aliases
        on events.provider = model_aliases.provider and events.model = model_aliases.model
)

select * from final
