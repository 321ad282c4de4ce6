{#-
  Per-unit price of one price key for a request: genai-prices' cliff tiers apply the tier price to
  every unit once the request's total input tokens exceed the tier start.
-#}
{% macro tier_price(stem, input_tokens) -%}
    case
        when {{ input_tokens }} > {{ stem }}_t2_start then {{ stem }}_t2
        when {{ input_tokens }} > {{ stem }}_t1_start then {{ stem }}_t1
        else {{ stem }}_base
    end
{%- endmacro %}

{#- Exact money: 18 decimals, for sums; published money columns round this to DECIMAL(18,9). -#}
{% macro exact_money(expr) -%}
    cast({{ expr }} as decimal(38, 18))
{%- endmacro %}
