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

{#-
  A model that a run rebuilds day by day declares its window once, in its own YAML:

      config:
        meta:
          window: {column: day, days_before: 1, days_after: 1}

  (`whole_months: true` widens the start, days_before included, to the first day of its month). The
  macros below write the model's delete and its filters from that declaration; the data tests
  (test_window.sql), the publish and the providers' re-pull read the same numbers from the
  manifest (sources/windows.py). Nothing else states a window's offsets.
-#}
{% macro model_window(node=none) -%}
    {%- if node is none and model is defined and model.resource_type == 'unit_test' -%}
        {#- a dbt unit test renders its model with a config of its own: a unit test of a
            window-rebuilt model passes the model's window (a YAML alias, so it is not restated)
            as `overrides: {vars: {unit_test_window: *window}}` -#}
        {%- do return(var('unit_test_window', none)) -%}
    {%- endif -%}
    {%- set meta = (node.config.meta if node is not none else config.get('meta')) or {} -%}
    {%- do return(meta.get('window')) -%}
{%- endmacro %}

{#- First day the window of `spec` (a model's declared window) rebuilds, plus `extra_before`. -#}
{% macro window_first_day(spec, extra_before=0) -%}
    {%- set spec = spec or {} -%}  {#- none at parse time, before the YAML config is merged -#}
    {%- if spec.get('whole_months') -%}
        cast(date_trunc('month', {{ window_start(-(spec.get('days_before', 0) + extra_before)) }})
            as date)
    {%- else -%}
        {{ window_start(-(spec.get('days_before', 0) + extra_before)) }}
    {%- endif -%}
{%- endmacro %}

{#-
  `<column> between <first day> and <last day>` of this model's declared window. `column` defaults
  to the model's own day column (a filter on an input names the input's); `extra_before` and
  `extra_after` widen it for inputs read as context beyond the days rebuilt (e.g. feedback that
  arrives the day after its answer).
-#}
{% macro in_window(column=none, extra_before=0, extra_after=0) -%}
    {%- set spec = model_window() -%}
    {%- if spec is none -%}
        {#- at parse time the YAML config is not merged yet; compiled SQL always has it -#}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "in_window() in " ~ this ~ ": declare config.meta.window in the model's YAML") }}
        {%- endif -%}
        true
    {%- else -%}
        {{ column or spec['column'] }} between {{ window_first_day(spec, extra_before) }}
            and {{ window_end(spec.get('days_after', 0) + extra_after) }}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of a window-rebuilt incremental model: remove the days it is about to rebuild. -#}
{% macro delete_window() -%}
    {{ return(adapter.dispatch('delete_window', 'costwatch')()) }}
{%- endmacro %}

{% macro default__delete_window() -%}
    {% if is_incremental() -%}
        delete from {{ this }} where {{ in_window() }}
    {%- endif %}
{%- endmacro %}

{#-
  The configuration of every window-rebuilt model: incremental, appending the days it rebuilds
  after deleting them (delete_window). A model calls `{{ window_rebuilt() }}` instead of config().
  After each append, the contract's not_null columns are checked in the window's rows: DuckDB
  enforces them on a table created since they were declared, not on one created before.
-#}
{% macro window_rebuilt(pre_hook="{{ delete_window() }}") -%}
    {{ return(adapter.dispatch('window_rebuilt', 'costwatch')(pre_hook)) }}
{%- endmacro %}

{% macro default__window_rebuilt(pre_hook) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=pre_hook,
        post_hook="{{ assert_not_null_columns(this, model, in_window()) }}"
    ) }}
{%- endmacro %}

{#-
  marts.sessions: the days on which the sessions with an event in the window start, now and (on an
  incremental run) as stored; with the window's own days, the days a run rebuilds whole. Read
  from the session-day index (int_session_days), not from every event of all history.
-#}
{% macro session_days_touched() -%}
    {%- set session_days = ref('int_session_days') -%}
    {%- set touched -%}
        select session_id from {{ session_days }} where {{ in_window('event_day') }}
    {%- endset -%}
    select min(event_day) as session_day
    from {{ session_days }}
    where session_id in ({{ touched }})
    group by session_id
    {%- if is_incremental() %}
    union
    select session_day from {{ this }}
    where session_id in ({{ touched }})
    {%- endif %}
{%- endmacro %}

{#- Pre-hook of marts.sessions: remove the days it rebuilds (session_days_touched). -#}
{% macro delete_session_days() -%}
    {{ return(adapter.dispatch('delete_session_days', 'costwatch')()) }}
{%- endmacro %}

{% macro default__delete_session_days() -%}
    {% if is_incremental() -%}
        delete from {{ this }}
        where {{ in_window() }}
           or session_day in ({{ session_days_touched() }})
    {%- endif %}
{%- endmacro %}
