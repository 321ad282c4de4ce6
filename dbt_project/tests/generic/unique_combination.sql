{#-
  Fails on every combination of the given columns that appears more than once. A column named
  with capitals (the FOCUS columns) is quoted the engine's way.
-#}
{% test unique_combination(model, columns) %}
{%- set names = [] -%}
{%- for c in columns -%}
    {%- do names.append(adapter.quote(c) if c != c | lower else c) -%}
{%- endfor -%}
select {{ names | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ names | join(', ') }}
having count(*) > 1
{% endtest %}
