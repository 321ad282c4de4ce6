{#-
  What the providers billed for tokens against what the application's own calls cost (priced
  per request), per day and provider, for the projects/workspaces the application logs. Status:
  fail when the difference, (app - billed) / billed in percent, is above parity_fail_pct, or
  when only the application has a cost; ok otherwise. Known gaps are shown apart, not counted:
  non-token line items (web search, code execution), projects the application never logged, and
  Anthropic Priority Tier calls, which Anthropic's cost_report never shows.
-#}
{{ window_rebuilt() }}

with

calls as (
    select
        *,
        provider = 'anthropic' and coalesce(service_tier = 'priority', false)
            as is_anthropic_priority
    from {{ ref('cost_breakdown') }}
    where
        interaction_type = 'llm_call'
        and provider in ('openai', 'anthropic')
        and {{ in_window('interaction_day') }}
),

billed_items as (
    select * from {{ ref('provider_costs_daily') }}
    where {{ in_window() }}
),

logged_projects as (
    select distinct
        provider,
        project_id
    from {{ ref('int_logged_scope_days') }}
    where project_id is not null
),

app as (
    select
        interaction_day as day,
        provider,
        -- a call without a logged tier is not a Priority Tier call (null is not 'priority')
        sum(exact_ai_tokens_cost_usd) filter (where not is_anthropic_priority) as app_usd,
        sum(exact_ai_tokens_cost_usd) filter (where is_anthropic_priority) as priority_usd
    from calls
    group by all
),

billed as (
    select
        billed_items.day,
        billed_items.provider,
        sum(billed_items.exact_billed_cost_usd) filter (
            where billed_items.is_token_cost and logged_projects.project_id is not null
        ) as billed_usd,
        sum(billed_items.exact_billed_cost_usd) filter (
            where not billed_items.is_token_cost and logged_projects.project_id is not null
        ) as non_token_usd,
        sum(billed_items.exact_billed_cost_usd) filter (
            where logged_projects.project_id is null
        ) as out_of_scope_usd
    from billed_items
    left join logged_projects
        on billed_items.provider = logged_projects.provider
        and billed_items.project_id is not distinct from logged_projects.project_id
    group by all
),

joined as (
    select
        coalesce(app.day, billed.day) as day,
        coalesce(app.provider, billed.provider) as provider,
        coalesce(billed.billed_usd, 0) as billed_tokens_usd,
        coalesce(app.app_usd, 0) as app_usd,
        coalesce(billed.non_token_usd, 0) as non_token_usd,
        coalesce(billed.out_of_scope_usd, 0) as out_of_scope_usd,
        coalesce(app.priority_usd, 0) as anthropic_priority_usd
    from app
    full outer join billed on app.day = billed.day and app.provider = billed.provider
),

final as (
    select
        day,
        provider,
        {{ money('billed_tokens_usd') }} as billed_tokens_usd,
        {{ money('app_usd') }} as app_usd,
        case
            when billed_tokens_usd <> 0
                then cast((app_usd - billed_tokens_usd) / billed_tokens_usd * 100 as double)
            when app_usd = 0 then 0.0
        end as diff_pct,
        case
            when billed_tokens_usd = 0 and app_usd <> 0 then 'fail'
            when
                billed_tokens_usd <> 0
                and abs((app_usd - billed_tokens_usd) / billed_tokens_usd * 100)
                > {{ var('parity_fail_pct') }}
                then 'fail'
            else 'ok'
        end as status,
        {{ money('non_token_usd') }} as non_token_usd,
        {{ money('out_of_scope_usd') }} as out_of_scope_usd,
        {{ money('anthropic_priority_usd') }} as anthropic_priority_usd
    from joined
)

select * from final
