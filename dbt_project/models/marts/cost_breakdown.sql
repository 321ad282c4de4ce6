{#-
  One row per interaction with its cost by category, priced per request, set-based.

  AI tokens (llm_call): the price row is found by provider and canonical model, the request's UTC
  date and time of day, and its context (service_tier, or processing=batch when the tier is
  'batch'); custom prices win over genai-prices, a context row over the standard one. Each priced
  unit is charged its count minus the counts of the more specific priced units (genai-prices'
  leaf rule): uncached input = input - cache reads - cache writes, 5-minute cache writes = cache
  writes - 1-hour cache writes (when 1-hour writes have their own price), output = output -
  reasoning (when reasoning has its own price). Tiers are chosen by the request's input tokens.
  DB operations, API calls and compute use the rate card in force that day; cost_event amounts are
  passed through as "other". Exact amounts (18 decimals) are kept for sums; the *_cost_usd
  columns are those amounts at 9 decimals.
-#}
{{ window_rebuilt() }}

{%- set stems = [
    'input', 'cache_read', 'cache_write', 'cache_write_1h', 'output', 'output_reasoning', 'request'
] %}

with

interactions as (
    select * from {{ ref('interactions') }}
    where {{ in_window() }}
),

model_aliases as (
    select * from {{ ref('stg_catalog__model_aliases') }}
),

llm_prices as (
    select * from {{ ref('stg_pricing__llm_prices') }}
),

rate_card as (
    select * from {{ ref('stg_pricing__rate_card') }}
),

pricing_version as (
    select
        (select any_value(pricing_source_version) from llm_prices)
        || ';ratecard='
        || coalesce((select any_value(rate_card_version) from rate_card), 'none')
            as pricing_version
),

llm_calls as (
    select
        interactions.event_id,
        interactions.interaction_day,
        coalesce(model_aliases.price_provider_id, interactions.provider) as price_provider_id,
        interactions.canonical_model,
        coalesce(interactions.input_tokens, 0) as input_tokens,
        coalesce(interactions.cached_input_tokens, 0) as cache_read_tokens,
        coalesce(interactions.cache_write_tokens, 0) as cache_write_tokens,
        coalesce(interactions.cache_write_1h_tokens, 0) as cache_write_1h_tokens,
        coalesce(interactions.output_tokens, 0) as output_tokens,
        coalesce(interactions.reasoning_tokens, 0) as reasoning_tokens,
        case
            when interactions.service_tier = 'batch' then 'processing'
            when interactions.service_tier is not null then 'service_tier'
        end as context_key,
        case
            when interactions.service_tier = 'batch' then 'batch'
            else interactions.service_tier
        end as context_value,
        {#- whole seconds since midnight, truncated: a cast would round 23:59:59.6 to 86400 -#}
        cast(
            {{ second_of_day('interactions.occurred_at') }}
            as integer
        ) as second_of_day
    from interactions
    left join model_aliases
        on interactions.provider = model_aliases.provider
        and interactions.model = model_aliases.model
    where interactions.interaction_type = 'llm_call'
),

ranked as (
    {#- the best price row of each call: ranked on its id alone (a window over 2.8M calls of a
        31-day run sorted every price column with them: 6.3 s of CPU), its columns joined after -#}
    select
        llm_calls.*,
        llm_prices.price_row_id,
        row_number() over (
            partition by llm_calls.event_id
            order by llm_prices.is_custom_price desc, llm_prices.context_key is not null desc
        ) as match_rank
    from llm_calls
    inner join llm_prices
        on llm_calls.price_provider_id = llm_prices.provider_id
        and llm_calls.canonical_model = llm_prices.model_id
        and llm_calls.interaction_day >= llm_prices.valid_from
        and llm_calls.interaction_day < llm_prices.valid_to
        and llm_calls.second_of_day >= llm_prices.seconds_from
        and llm_calls.second_of_day < llm_prices.seconds_to
        and (
            llm_prices.context_key is null
            or (
                llm_calls.context_key = llm_prices.context_key
                and llm_calls.context_value = llm_prices.context_value
            )
        )
),

matched as (
    select
        ranked.*,
        {{ star_except('llm_prices', ['context_key', 'context_value', 'price_row_id']) }}
    from ranked
    inner join llm_prices on ranked.price_row_id = llm_prices.price_row_id
    where ranked.match_rank = 1
),

unit_prices as (
    select
        event_id,
        price_row_id,
        price_source,
        input_tokens,
        cache_read_tokens,
        cache_write_tokens,
        cache_write_1h_tokens,
        output_tokens,
        {%- for stem in stems %}
            {{ tier_price(stem, 'input_tokens') }} as {{ stem }}_price,
        {%- endfor %}
        reasoning_tokens
    from matched
),

leaves as (
    select
        *,
        case when cache_read_price is not null then cache_read_tokens else 0 end as n_cache_read,
        case when cache_write_1h_price is not null then cache_write_1h_tokens else 0 end
            as n_cache_write_1h,
        case
            when cache_write_price is not null
                then
                    cache_write_tokens
                    - case
                        when cache_write_1h_price is not null then cache_write_1h_tokens else 0
                    end
            else 0
        end as n_cache_write,
        case when output_reasoning_price is not null then reasoning_tokens else 0 end
            as n_output_reasoning
    from unit_prices
),

ai_costs as (
    select
        event_id,
        price_row_id,
        price_source,
        input_tokens - n_cache_read - n_cache_write - n_cache_write_1h as uncached_input_tokens,
        {{ exact_money(
            "coalesce(input_price * (input_tokens - n_cache_read - n_cache_write - n_cache_write_1h), 0)"
            ~ " + coalesce(cache_read_price * n_cache_read, 0)"
            ~ " + coalesce(cache_write_price * n_cache_write, 0)"
            ~ " + coalesce(cache_write_1h_price * n_cache_write_1h, 0)"
            ~ " + coalesce(output_price * (output_tokens - n_output_reasoning), 0)"
            ~ " + coalesce(output_reasoning_price * n_output_reasoning, 0)"
            ~ " + coalesce(request_price, 0)"
        ) }} as exact_ai_tokens_cost_usd,
        {{ exact_money(
            "case when input_price is not null and cache_read_price is not null"
            ~ " then n_cache_read * (input_price - cache_read_price) else 0 end"
        ) }} as exact_cache_savings_usd
    from leaves
),

rates_in_force as (
    {#- the rate card in force is found per day of the window (a few rows a day) and joined to
        the interactions by day (joined per interaction and grouped by its id, a 31-day run
        grouped 13M rows: 3 s of the model's 14) -#}
    select
        window_days.interaction_day,
        rate_card.kind,
        rate_card.service,
        rate_card.usd_per_unit
    from (select distinct interactions.interaction_day from interactions) as window_days
    inner join rate_card
        on window_days.interaction_day >= rate_card.effective_from
        and window_days.interaction_day < rate_card.effective_to
),

rates as (
    select
        interaction_day,
        max(usd_per_unit) filter (where kind = 'db_read_row') as db_read_rate,
        max(usd_per_unit) filter (where kind = 'db_write_row') as db_write_rate,
        max(usd_per_unit) filter (where kind = 'compute_ms') as compute_ms_rate,
        max(usd_per_unit) filter (where kind = 'compute_mb_ms') as compute_mb_ms_rate,
        max(usd_per_unit) filter (where kind = 'api_unit' and service = '*') as api_default_rate
    from rates_in_force
    group by interaction_day
),

service_rates as (
    select
        interaction_day,
        service,
        max(usd_per_unit) as api_service_rate
    from rates_in_force
    where kind = 'api_unit'
    group by interaction_day, service
),

final as (
    select
        interactions.event_id,
        interactions.interaction_day,
        interactions.occurred_at,
        interactions.user_id,
        interactions.session_id,
        interactions.interaction_type,
        interactions.provider,
        interactions.model,
        interactions.canonical_model,
        interactions.service_tier,
        ai_costs.uncached_input_tokens,
        interactions.interaction_type = 'llm_call' and ai_costs.event_id is null
            as is_unpriced_llm_call,
        ai_costs.price_source,
        ai_costs.price_row_id,
        coalesce(ai_costs.exact_ai_tokens_cost_usd, 0) as exact_ai_tokens_cost_usd,
        coalesce(ai_costs.exact_cache_savings_usd, 0) as exact_cache_savings_usd,
        {{ exact_money(
            "coalesce(interactions.rows_read * rates.db_read_rate, 0)"
            ~ " + coalesce(interactions.rows_written * rates.db_write_rate, 0)"
        ) }} as exact_db_ops_cost_usd,
        {{ exact_money(
            "case when interactions.interaction_type = 'api_call' then coalesce(interactions.units"
            ~ " * coalesce(service_rates.api_service_rate, rates.api_default_rate), 0)"
            ~ " else 0 end"
        ) }} as exact_api_calls_cost_usd,
        {{ exact_money(
            "case when interactions.interaction_type = 'compute' then"
            ~ " coalesce(cast(interactions.duration_ms as decimal(38, 3)) * rates.compute_ms_rate, 0)"
            ~ " + coalesce(cast(interactions.duration_ms as decimal(38, 3))"
            ~ " * cast(interactions.memory_mb as decimal(38, 3)) * rates.compute_mb_ms_rate, 0)"
            ~ " else 0 end"
        ) }} as exact_compute_cost_usd,
        {{ exact_money("coalesce(interactions.amount_usd, 0)") }} as exact_other_cost_usd,
        pricing_version.pricing_version
    from interactions
    cross join pricing_version
    left join ai_costs on interactions.event_id = ai_costs.event_id
    left join rates
        on
        interactions.interaction_day = rates.interaction_day
        and interactions.interaction_type in ('db_op', 'api_call', 'compute')
    left join service_rates
        on
        interactions.interaction_day = service_rates.interaction_day
        and interactions.service = service_rates.service
        and interactions.interaction_type in ('db_op', 'api_call', 'compute')
),

with_totals as (
    select
        *,
        exact_ai_tokens_cost_usd + exact_db_ops_cost_usd + exact_api_calls_cost_usd
        + exact_compute_cost_usd + exact_other_cost_usd as exact_total_cost_usd
    from final
)

select
    event_id,
    interaction_day,
    occurred_at,
    user_id,
    session_id,
    interaction_type,
    provider,
    model,
    canonical_model,
    service_tier,
    uncached_input_tokens,
    is_unpriced_llm_call,
    price_source,
    price_row_id,
    {{ money_of_exact('exact_ai_tokens_cost_usd') }} as ai_tokens_cost_usd,
    {{ money_of_exact('exact_db_ops_cost_usd') }} as db_ops_cost_usd,
    {{ money_of_exact('exact_api_calls_cost_usd') }} as api_calls_cost_usd,
    {{ money_of_exact('exact_compute_cost_usd') }} as compute_cost_usd,
    {{ money_of_exact('exact_other_cost_usd') }} as other_cost_usd,
    {{ money_of_exact('exact_total_cost_usd') }} as total_cost_usd,
    {{ exact_money('exact_ai_tokens_cost_usd') }} as exact_ai_tokens_cost_usd,
    {{ exact_money('exact_db_ops_cost_usd') }} as exact_db_ops_cost_usd,
    {{ exact_money('exact_api_calls_cost_usd') }} as exact_api_calls_cost_usd,
    {{ exact_money('exact_compute_cost_usd') }} as exact_compute_cost_usd,
    {{ exact_money('exact_other_cost_usd') }} as exact_other_cost_usd,
    {{ exact_money('exact_total_cost_usd') }} as exact_total_cost_usd,
    {{ money_of_exact('exact_cache_savings_usd') }} as cache_savings_usd,
    {{ exact_money('exact_cache_savings_usd') }} as exact_cache_savings_usd,
    pricing_version
from with_totals
