with

source as (
    select * from {{ source('catalog', 'model_aliases') }}
),

renamed as (
    select
        provider,
        model,
        canonical_model,
        is_priced_model,
        price_provider_id,
        genai_prices_version
    from source
)

select * from renamed
