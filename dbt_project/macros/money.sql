{#- The one money type of the warehouse (marts.md: DECIMAL(18,9) USD). -#}
{% macro money(expr) -%}
    cast({{ expr }} as decimal(18, 9))
{%- endmacro %}
