{#- Share of a budget's limit used, percent: USD budgets by spend, token budgets by tokens. -#}
{% macro pct_of_limit(spent_usd, spent_tokens, limit_usd, limit_tokens) -%}
    case
        when {{ limit_usd }} is not null then 100.0 * {{ spent_usd }} / {{ limit_usd }}
        else 100.0 * {{ spent_tokens }} / {{ limit_tokens }}
    end
{%- endmacro %}
