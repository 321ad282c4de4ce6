{#-
  Fails on each of the given columns that holds a null: one row per such column, with its count of
  null rows, from one scan of the model (in the tested days, see macros/test_window.sql). For the
  models without an enforced contract (staging views, intermediate tables); a contract's marts
  declare `constraints: [{type: not_null}]` instead, which the build enforces. One check per model,
  not one per column: each check is a dbt node and a Dagster check evaluation per day of a run.
-#}
{% test not_null_columns(model, columns) %}
{%- set names = column_sql_names(columns) -%}
with null_rows as (
    select
    {%- for name in names %}
        sum(case when {{ name }} is null then 1 else 0 end) as nulls_{{ loop.index }}
        {{- "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)
{% for c in columns -%}
select '{{ c }}' as column_name, nulls_{{ loop.index }} as null_rows
from null_rows
where nulls_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}
{% endtest %}
