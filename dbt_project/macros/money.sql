{#- The one money type of the warehouse (marts.md: DECIMAL(18,9) USD).
    Through DECIMAL(38,9): DuckDB casts DECIMAL(38,18) (every exact amount) to DECIMAL(38,9) and
    then to DECIMAL(18,9) in 0.7 s per 4.4M values where the direct cast takes 1.1 s (the same
    value: one rounding, at the first cast; tests/unit/test_money_cast.py). -#}
{% macro money(expr) -%}
    cast(cast({{ expr }} as decimal(38, 9)) as decimal(18, 9))
{%- endmacro %}

{#- money() of an exact amount (DECIMAL(38,18), exact_money's type) and of nothing else: the same
    value, faster for amounts under 1 USD (a call's usual cost), which fit DECIMAL(18,18), a 64-bit
    integer, and are rounded to 9 decimals without DuckDB's 128-bit division (cost_breakdown's 7
    amounts of 4.4M calls: 2.46 -> 0.19 s). Not for other types: a DOUBLE would be rounded twice.
    tests/unit/test_money_cast.py holds both to the direct cast. -#}
{% macro money_of_exact(expr) -%}
    case
        when {{ expr }} > -1 and {{ expr }} < 1
            then cast(cast({{ expr }} as decimal(18, 18)) as decimal(18, 9))
        else {{ money(expr) }}
    end
{%- endmacro %}
