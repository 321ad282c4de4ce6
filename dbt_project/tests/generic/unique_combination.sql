{#-
  Fails on every combination of the given columns that appears more than once (a name with
  capitals quoted the engine's way: column_sql_names).
-#}
{% test unique_combination(model, columns) %}
{%- set names = column_sql_names(columns) -%}
select {{ names | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ names | join(', ') }}
having count(*) > 1
{% endtest %}
