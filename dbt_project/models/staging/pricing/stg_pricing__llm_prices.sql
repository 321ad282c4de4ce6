with

source as (
    select * from {{ source('pricing', 'llm_prices') }}
),

renamed as (
    select
        price_row_id,
        provider_id,
        model_id,
        source as price_source,
        source = 'custom' as is_custom_price,
        context_key,
        context_value,
        coalesce(valid_from, date '0001-01-01') as valid_from,
        coalesce(valid_to, date '9999-12-31') as valid_to,
        seconds_from,
        seconds_to,
        {%- set stems = [
            'input', 'cache_read', 'cache_write', 'cache_write_1h', 'output', 'output_reasoning',
            'request'
        ] %}
        {%- for stem in stems %}
            {{ stem }}_base,
            {{ stem }}_t1_start,
            {{ stem }}_t1,
            {{ stem }}_t2_start,
            {{ stem }}_t2,
        {%- endfor %}
        pricing_source_version
    from source
)

select * from renamed
