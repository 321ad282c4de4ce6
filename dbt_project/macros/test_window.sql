{#-
  Data tests of a model that a run rebuilds day by day check the days that run rebuilt, not all
  history, so a daily run's tests cost one day of data (a full build, with no window set, tests
  everything). The days are the tested model's own declared window (`config.meta.window` in its
  YAML, see window.sql). Keys stay unique across days: ingestion de-duplicates event ids over all
  history.
-#}
{% macro duckdb__get_where_subquery(relation) -%}
    {%- do return(windowed_relation(relation, config.get('where', ''))) -%}
{%- endmacro %}

{#- `relation` (an input of the test being compiled) filtered to its own declared window and to
    `where`; the relation itself when neither applies. -#}
{% macro windowed_relation(relation, where='') -%}
    {%- set found = namespace(spec=none) -%}
    {%- for node_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(node_id) -%}
        {%- if node and node.alias == relation.identifier and node.schema == relation.schema -%}
            {%- set found.spec = model_window(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set filters = [] -%}
    {%- if where -%}{%- do filters.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if found.spec and env_var('COSTWATCH_WINDOW_START', '') -%}
        {%- do filters.append(
            found.spec['column'] ~ ' between ' ~ window_first_day(found.spec)
            ~ ' and ' ~ window_end(found.spec.get('days_after', 0))
        ) -%}
    {%- endif -%}
    {%- if filters -%}
        {%- do return(
            '(select * from ' ~ relation ~ ' where ' ~ filters | join(' and ') ~ ') dbt_subquery'
        ) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#-
  A relationships test whose parent row always lies in the parent's own window when the child row
  lies in the child's (a cost and its interaction share their day) says so in its YAML:
  `config: {meta: {parent_in_window: true}}`; the parent side then reads that window only, not
  all history. Without it the parent is read whole (a session can start days before its calls).
-#}
{% macro duckdb__test_relationships(model, column_name, to, field) -%}
    {%- set meta = config.get('meta') or {} -%}
    {%- set parent = windowed_relation(to) if meta.get('parent_in_window') else to -%}
    {{ return(dbt.default__test_relationships(model, column_name, parent, field)) }}
{%- endmacro %}
