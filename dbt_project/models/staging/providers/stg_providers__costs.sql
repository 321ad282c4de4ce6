with

source as (
    select * from {{ source('providers', 'provider_costs') }}
),

renamed as (
    select
        provider,
        day,
        project_id,
        line_item,
        amount_usd,
        currency,
        cost_type,
        model as reported_model,
        service_tier,
        -- Token charges: Anthropic says so in cost_type; OpenAI token line items read
        -- "<model>, <token kind>", while tool calls and sessions do not.
        case
            when provider = 'anthropic' then cost_type = 'tokens'
            else line_item like '%, %' and line_item not like '%tool%'
        end as is_token_cost,
        pulled_at
    from source
)

select * from renamed
