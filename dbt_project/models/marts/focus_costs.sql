{#-
  Costs in FOCUS (FinOps Open Cost and Usage Specification) column names, one row per UTC day,
  user, session, service and SKU, so finance tools can read LLM spend next to cloud spend.
  BilledCost and EffectiveCost are the costs Costwatch computes from the application's own events
  (genai-prices, custom prices, rate card), not an invoice; provider invoices are in
  marts.provider_costs_daily. Extensions start with x_.
-#}
{{ window_rebuilt() }}

with

costs as (
    select
        cost_breakdown.*,
        interactions.input_tokens,
        interactions.output_tokens,
        interactions.rows_read,
        interactions.rows_written,
        interactions.units,
        interactions.duration_ms,
        interactions.service,
        interactions.project_id
    from {{ ref('cost_breakdown') }} as cost_breakdown
    inner join {{ ref('interactions') }} as interactions
        on cost_breakdown.event_id = interactions.event_id
    where
        {{ in_window('cost_breakdown.interaction_day') }}
        {#- an interaction and its cost share their day: both sides read the window only #}
        and {{ in_window('interactions.interaction_day') }}
),

classified as (
    select
        *,
        case interaction_type
            when 'llm_call' then coalesce(provider, 'unknown provider')
            when 'db_op' then 'Database'
            when 'api_call' then 'External API: ' || coalesce(service, 'unknown')
            when 'compute' then 'Compute'
            else 'Other'
        end as service_name,
        case interaction_type
            when 'llm_call' then 'AI and Machine Learning'
            when 'db_op' then 'Databases'
            when 'compute' then 'Compute'
            else 'Other'
        end as service_category,
        case interaction_type
            when 'llm_call' then coalesce(canonical_model, model)
            when 'api_call' then coalesce(service, 'api')
            else interaction_type
        end as sku_id,
        case interaction_type
            when 'llm_call' then coalesce(input_tokens, 0) + coalesce(output_tokens, 0)
            when 'db_op' then coalesce(rows_read, 0) + coalesce(rows_written, 0)
            when 'api_call' then units
            when 'compute' then duration_ms / 1000.0
            else 1
        end as consumed_quantity,
        case interaction_type
            when 'llm_call' then 'Tokens'
            when 'db_op' then 'Rows'
            when 'api_call' then 'Units'
            when 'compute' then 'Seconds'
            else 'Events'
        end as consumed_unit
    from costs
),

final as (
    select
        {{ money('sum(exact_total_cost_usd)') }} as {{ adapter.quote("BilledCost") }},
        {{ money('sum(exact_total_cost_usd)') }} as {{ adapter.quote("EffectiveCost") }},
        'USD' as {{ adapter.quote("BillingCurrency") }},
        cast(interaction_day as timestamp) as {{ adapter.quote("ChargePeriodStart") }},
        cast(interaction_day + 1 as timestamp) as {{ adapter.quote("ChargePeriodEnd") }},
        cast(date_trunc('month', interaction_day) as timestamp)
            as {{ adapter.quote("BillingPeriodStart") }},
        cast(date_trunc('month', interaction_day) + interval 1 month as timestamp)
            as {{ adapter.quote("BillingPeriodEnd") }},
        'Usage' as {{ adapter.quote("ChargeCategory") }},
        service_name as {{ adapter.quote("ServiceName") }},
        service_category as {{ adapter.quote("ServiceCategory") }},
        service_name as {{ adapter.quote("ProviderName") }},
        sku_id as {{ adapter.quote("SkuId") }},
        -- summed as DECIMAL: a DOUBLE sum depends on the order DuckDB's threads add rows in
        cast(sum(cast(consumed_quantity as decimal(38, 9))) as double)
            as {{ adapter.quote("ConsumedQuantity") }},
        consumed_unit as {{ adapter.quote("ConsumedUnit") }},
        any_value(project_id) as {{ adapter.quote("SubAccountId") }},
        interaction_day as x_charge_day,
        user_id as x_user_id,
        session_id as x_session_id,
        interaction_type as x_interaction_type,
        cast(count(*) as bigint) as x_interactions,
        any_value(pricing_version) as x_pricing_version
    from classified
    group by
        interaction_day,
        user_id,
        session_id,
        interaction_type,
        service_name,
        service_category,
        sku_id,
        consumed_unit
)

select * from final
