{#-
  Where DuckDB and Spark SQL differ, one macro with an implementation per engine
  (adapter.dispatch); the models stay one tree. The DuckDB implementations render exactly the SQL
  the models held before; tests/spark/test_dbt_on_spark.py builds the marts on both and compares.
-#}

{#- `expr` matches the regular expression `pattern` (a SQL string literal) as a whole. -#}
{% macro full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('full_match', 'costwatch')(expr, pattern)) }}
{%- endmacro %}

{% macro default__full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, {{ pattern }})
{%- endmacro %}

{% macro spark__full_match(expr, pattern) -%}
    ({{ expr }} rlike concat('^(?:', {{ pattern }}, ')$'))
{%- endmacro %}

{#- A timestamp as text with microseconds: 2026-11-21T09:00:02.500000 (ids are built from it). -#}
{% macro timestamp_text(expr) -%}
    {{ return(adapter.dispatch('timestamp_text', 'costwatch')(expr)) }}
{%- endmacro %}

{% macro default__timestamp_text(expr) -%}
    strftime(
                {{ expr }},
                '%Y-%m-%dT%H:%M:%S.%f'
            )
{%- endmacro %}

{% macro spark__timestamp_text(expr) -%}
    date_format({{ expr }}, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
{%- endmacro %}

{#-
  Spark: dbt's contract check casts NULL to each declared type; the marts declare DuckDB's names
  (marts.md), so they are translated to Spark's (varchar and json are strings; a DuckDB TIMESTAMP
  has no time zone, as Spark's TIMESTAMP_NTZ; a list `integer[]` is an `array<integer>`).
-#}
{% macro spark_type(data_type) -%}
    {%- set t = data_type | lower | trim -%}
    {%- if t.endswith('[]') -%} array<{{ spark_type(t[:-2]) | trim }}>
    {%- elif t in ('varchar', 'json', 'text') -%} string
    {%- elif t == 'timestamp' -%} timestamp_ntz
    {%- else -%} {{ data_type }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__get_empty_schema_sql(columns) -%}
    select
    {% for i in columns -%}
        {%- set col = columns[i] -%}
        cast(null as {{ spark_type(col['data_type']) }}) as {{ adapter.quote(col['name']) if col.get('quote') else col['name'] }}
        {%- if not loop.last -%},{%- endif -%}
    {%- endfor %}
{%- endmacro %}

{#-
  Spark: a window-rebuilt model is a Parquet table partitioned by its window's day column (from
  its YAML, read when the model runs), so a run replaces whole day partitions.
-#}
{% macro spark__partition_cols(label, required=false) -%}
    {%- set cols = config.get('partition_by', validator=validation.any[list, basestring]) -%}
    {%- if cols is none and config.get('materialized') == 'incremental' -%}
        {%- set spec = model_window() -%}
        {%- set cols = spec['column'] if spec else none -%}
    {%- endif -%}
    {%- if cols is not none -%}
        {%- if cols is string -%}{%- set cols = [cols] -%}{%- endif -%}
        {{ label }} ({{ cols | join(', ') }})
    {%- endif -%}
{%- endmacro %}

{#-
  Spark: the days of the window, dropped as partitions before the rebuilt rows are appended (what
  `delete from ... where <window>` does on DuckDB; Parquet tables cannot delete rows).
-#}
{% macro spark__delete_window() -%}
    {%- if is_incremental() -%}
        {%- set spec = model_window() -%}
        {%- do drop_partitions_between(this, spec['column'], window_first_day(spec),
                                       window_end(spec.get('days_after', 0))) -%}
    {%- endif -%}
{%- endmacro %}

{#- Drop every partition of `relation` whose `column` lies between two SQL date expressions. -#}
{% macro drop_partitions_between(relation, column, first_day_sql, last_day_sql) -%}
    {%- set bounds = run_query('select ' ~ first_day_sql ~ ', ' ~ last_day_sql) -%}
    {%- set first, last = bounds.rows[0][0] | string, bounds.rows[0][1] | string -%}
    {%- for row in run_query('show partitions ' ~ relation) -%}
        {%- set value = row[0].split('=', 1)[1] -%}
        {%- if first <= value <= last -%}
            {%- do drop_day_partition(relation, column, value) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{% macro drop_day_partition(relation, column, day) -%}
    {%- do run_query('alter table ' ~ relation ~ ' drop if exists partition ('
                     ~ column ~ " = date'" ~ day ~ "')") -%}
{%- endmacro %}

{#- Spark: the same, as Parquet tables. -#}
{% macro spark__window_rebuilt(pre_hook) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        file_format='parquet',
        pre_hook=pre_hook,
        post_hook="{{ assert_not_null_columns(this, model, in_window()) }}"
    ) }}
{%- endmacro %}

{#-
  Spark: Parquet tables cannot hold NOT NULL constraints; a contract's not_null columns are
  checked by a query instead, failing the model as DuckDB's constraint would.
-#}
{% macro spark__persist_constraints(relation, model) -%}
    {%- do assert_not_null_columns(relation, model) -%}
{%- endmacro %}

{#- Fail when a not_null column of `model`'s contract holds a null (in the rows `where` selects). -#}
{% macro assert_not_null_columns(relation, model, where='true') -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set columns = [] -%}
    {%- for name, column in model.columns.items() -%}
        {%- for constraint in column.constraints if constraint.type == 'not_null' -%}
            {%- do columns.append(name) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if columns -%}
        {%- set counts = [] -%}
        {%- for name in columns -%}
            {%- do counts.append('coalesce(count_if(' ~ name ~ ' is null), 0)') -%}
        {%- endfor -%}
        {%- set sql = 'select ' ~ (counts | join(', ')) ~ ' from ' ~ relation ~ ' where ' ~ where -%}
        {%- set row = run_query(sql).rows[0] -%}
        {%- for name in columns -%}
            {%- if row[loop.index0] > 0 -%}
                {{ exceptions.raise_compiler_error(relation ~ "." ~ name ~ " holds "
                    ~ row[loop.index0] ~ " nulls: the model's contract says not_null") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- `prefix.*` without `columns`. -#}
{% macro star_except(prefix, columns) -%}
    {{ return(adapter.dispatch('star_except', 'costwatch')(prefix, columns)) }}
{%- endmacro %}

{% macro default__star_except(prefix, columns) -%}
    {{ prefix }}.* exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(prefix, columns) -%}
    {{ prefix }}.* except ({{ columns | join(', ') }})
{%- endmacro %}

{#- Whole seconds since midnight of a timestamp, truncated (23:59:59.6 is 86399, not 86400). -#}
{% macro second_of_day(ts) -%}
    {{ return(adapter.dispatch('second_of_day', 'costwatch')(ts)) }}
{%- endmacro %}

{% macro default__second_of_day(ts) -%}
    floor(extract(epoch from {{ ts }} - date_trunc('day', {{ ts }})))
{%- endmacro %}

{% macro spark__second_of_day(ts) -%}
    (hour({{ ts }}) * 3600 + minute({{ ts }}) * 60 + second({{ ts }}))
{%- endmacro %}

{#- The q-quantile of `expr`, interpolated between the two nearest values. -#}
{% macro quantile(expr, q) -%}
    {{ return(adapter.dispatch('quantile', 'costwatch')(expr, q)) }}
{%- endmacro %}

{% macro default__quantile(expr, q) -%}
    quantile_cont({{ expr }}, {{ q }})
{%- endmacro %}

{% macro spark__quantile(expr, q) -%}
    percentile({{ expr }}, {{ q }})
{%- endmacro %}

{#- Days from `start` to `end` (dates). -#}
{% macro days_between(start, end) -%}
    {{ return(adapter.dispatch('days_between', 'costwatch')(start, end)) }}
{%- endmacro %}

{% macro default__days_between(start, end) -%}
    datediff('day', {{ start }}, {{ end }})
{%- endmacro %}

{% macro spark__days_between(start, end) -%}
    datediff({{ end }}, {{ start }})
{%- endmacro %}

{#- The smallest element of a list. -#}
{% macro list_smallest(items) -%}
    {{ return(adapter.dispatch('list_smallest', 'costwatch')(items)) }}
{%- endmacro %}

{% macro default__list_smallest(items) -%}
    list_min({{ items }})
{%- endmacro %}

{% macro spark__list_smallest(items) -%}
    array_min({{ items }})
{%- endmacro %}

{#- The largest element of a list that is at most `bound` (null when none is). -#}
{% macro list_largest_up_to(items, bound) -%}
    {{ return(adapter.dispatch('list_largest_up_to', 'costwatch')(items, bound)) }}
{%- endmacro %}

{% macro default__list_largest_up_to(items, bound) -%}
    list_max(list_filter({{ items }}, lambda t: t <= {{ bound }}))
{%- endmacro %}

{% macro spark__list_largest_up_to(items, bound) -%}
    array_max(filter({{ items }}, t -> t <= {{ bound }}))
{%- endmacro %}

{#- One row per element of a list of SQL literals. -#}
{% macro rows_of(literals) -%}
    {{ return(adapter.dispatch('rows_of', 'costwatch')(literals)) }}
{%- endmacro %}

{% macro default__rows_of(literals) -%}
    unnest([{{ literals | join(', ') }}])
{%- endmacro %}

{% macro spark__rows_of(literals) -%}
    explode(array({{ literals | join(', ') }}))
{%- endmacro %}

{#- The current time in UTC as a TIMESTAMP without time zone. -#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'costwatch')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    cast(now() at time zone 'UTC' as timestamp)
{%- endmacro %}

{% macro spark__utc_now() -%}
    cast(current_timestamp() as timestamp)
{%- endmacro %}

{#- The text type's name (DuckDB's VARCHAR; Spark's STRING). -#}
{% macro text_type() -%}
    {{ return(adapter.dispatch('text_type', 'costwatch')()) }}
{%- endmacro %}

{% macro default__text_type() -%}
    varchar
{%- endmacro %}

{% macro spark__text_type() -%}
    string
{%- endmacro %}

{#- Spark: marts.sessions' days (window.sql, session_days_touched) dropped as partitions. -#}
{% macro spark__delete_session_days() -%}
    {%- if is_incremental() -%}
        {%- do spark__delete_window() -%}
        {%- for row in run_query(session_days_touched()) -%}
            {%- do drop_day_partition(this, model_window()['column'], row[0]) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- Column names as SQL: a name with capitals (the FOCUS columns) quoted the engine's way. -#}
{% macro column_sql_names(columns) -%}
    {%- set names = [] -%}
    {%- for c in columns -%}
        {%- do names.append(adapter.quote(c) if c != c | lower else c) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#-
  The archived rows of a mart the archive step moves (sources/publishing/archive.py), for a model
  that must see every day ever built: DuckDB's `archive.<name>` once the archive has created it,
  else none. On Spark none: the archive moves days out of the warehouse, the lake keeps them all.
-#}
{% macro archived_relation(name) -%}
    {{ return(adapter.dispatch('archived_relation', 'costwatch')(name)) }}
{%- endmacro %}

{% macro default__archived_relation(name) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {{ return(adapter.get_relation(database=this.database, schema='archive', identifier=name)) }}
{%- endmacro %}

{% macro spark__archived_relation(name) -%}
    {{ return(none) }}
{%- endmacro %}
