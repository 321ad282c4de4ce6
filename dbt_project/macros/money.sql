{#- The one money type of the warehouse (marts.md: DECIMAL(18,9) USD).
    Through DECIMAL(38,9): DuckDB casts DECIMAL(38,18) (every exact amount) to DECIMAL(38,9) and
    then to DECIMAL(18,9) in 0.7 s per 4.4M values where the direct cast takes 1.1 s (the same
    value: one rounding, at the first cast; tests/unit/test_money_cast.py). -#}
{% macro money(expr) -%}
    cast(cast({{ expr }} as decimal(38, 9)) as decimal(18, 9))
{%- endmacro %}
