{#-
  The day window a run rebuilds, inclusive, as DATE literals. Dagster sets COSTWATCH_WINDOW_START
  and COSTWATCH_WINDOW_END to the partition range; without them a build covers all history.
  Environment variables rather than --vars keep dbt's partial parsing.
-#}
{% macro window_start(offset_days=0) -%}
    (date '{{ env_var("COSTWATCH_WINDOW_START", "1900-01-01") }}' + {{ offset_days }})
{%- endmacro %}

{% macro window_end(offset_days=0) -%}
    (date '{{ env_var("COSTWATCH_WINDOW_END", "2999-12-31") }}' + {{ offset_days }})
{%- endmacro %}

{#- Pre-hook for incremental models that own whole days: remove the days about to be rebuilt. -#}
{% macro delete_days(day_column, start_offset=0, end_offset=0) -%}
    {% if is_incremental() -%}
        delete from {{ this }}
        where {{ day_column }} between {{ window_start(start_offset) }} and {{ window_end(end_offset) }}
    {%- endif %}
{%- endmacro %}

{#- First day of the month of the window's start: budget months are rebuilt whole. -#}
{% macro budget_window_start() -%}
    cast(date_trunc('month', {{ window_start() }}) as date)
{%- endmacro %}
