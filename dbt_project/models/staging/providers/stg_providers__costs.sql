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
        amount,
        currency,
        cost_type,
        model as reported_model,
        service_tier,
        -- Token charges, by a positive rule: Anthropic says so in cost_type; OpenAI token line
        -- items are "<model>, <token kind>" with the documented text token kinds (input, cached
        -- input, output). Images ("dall-e 3, standard, 1024x1792"), audio ("whisper-1, audio"),
        -- tool calls and sessions are not token charges.
        case
            when provider = 'anthropic' then coalesce(cost_type = 'tokens', false)
            else coalesce(
                {{ full_match('lower(line_item)', "'.+, (input|cached input|output)'") }}, false
            )
        end as is_token_cost,
        -- a null amount or another currency is never summed as USD (listed as a gap)
        amount_usd is null as is_not_in_usd,
        pulled_at
    from source
)

select * from renamed
