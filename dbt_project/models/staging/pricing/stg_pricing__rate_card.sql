with

source as (
    select * from {{ source('pricing', 'rate_card') }}
),

renamed as (
    select
        kind,
        service,
        effective_from,
        coalesce(effective_to, date '9999-12-31') as effective_to,
        usd_per_unit,
        rate_card_version
    from source
)

select * from renamed
