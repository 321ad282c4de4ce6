{#- What the providers billed, per day, provider, project/workspace and line item. -#}
{{ window_rebuilt() }}

with

costs as (
    select * from {{ ref('stg_providers__costs') }}
    where {{ in_window() }}
),

final as (
    select
        day,
        provider,
        project_id,
        line_item,
        any_value(cost_type) as cost_type,
        bool_and(is_token_cost) as is_token_cost,
        {{ money('sum(amount_usd)') }} as billed_cost_usd,
        {{ exact_money('sum(amount_usd)') }} as exact_billed_cost_usd
    from costs
    group by day, provider, project_id, line_item
)

select * from final
