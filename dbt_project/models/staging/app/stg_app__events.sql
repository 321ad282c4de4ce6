with

source as (
    select * from {{ source('app', 'app_events') }}
),

renamed as (
    select
        event_id,
        event_type,
        occurred_at,
        event_day,
        user_id,
        session_id as logged_session_id,
        app,
        provider,
        model,
        project_id,
        api_key_id,
        service_tier,
        input_tokens,
        cached_input_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        output_tokens,
        reasoning_tokens,
        duration_ms,
        status,
        error_code,
        retry_of,
        is_stream,
        operation,
        rows_read,
        rows_written,
        service,
        endpoint,
        units,
        memory_mb,
        amount_usd,
        category,
        description,
        action,
        quality_score,
        rating,
        ref_event_id,
        metadata,
        source_file,
        line_no,
        ingested_at,
        event_source,
        event_type in ('llm_call', 'db_op', 'api_call', 'compute', 'cost_event') as is_interaction
    from source
)

select * from renamed
