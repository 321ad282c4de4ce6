{#-
  The marts tell one story: for every day of the run's window, the day's total in daily_totals
  equals the sum of its users' days in daily_stats and the sum of its rows in cost_breakdown (all
  from exact amounts, rounded once). Returns the days where they differ.
-#}
with

totals as (
    select day, total_cost_usd
    from {{ ref('daily_totals') }}
    where day between {{ window_start() }} and {{ window_end() }}
),

by_user as (
    select day, {{ money('sum(exact_total_cost_usd)') }} as total_cost_usd
    from {{ ref('daily_stats') }}
    where day between {{ window_start() }} and {{ window_end() }}
    group by day
),

by_row as (
    select interaction_day as day, {{ money('sum(exact_total_cost_usd)') }} as total_cost_usd
    from {{ ref('cost_breakdown') }}
    where interaction_day between {{ window_start() }} and {{ window_end() }}
    group by interaction_day
)

select
    coalesce(totals.day, by_user.day, by_row.day) as day,
    totals.total_cost_usd as daily_totals_usd,
    by_user.total_cost_usd as daily_stats_usd,
    by_row.total_cost_usd as cost_breakdown_usd
from totals
full outer join by_user on totals.day = by_user.day
full outer join by_row on coalesce(totals.day, by_user.day) = by_row.day
where
    coalesce(totals.total_cost_usd, 0) <> coalesce(by_user.total_cost_usd, 0)
    or coalesce(totals.total_cost_usd, 0) <> coalesce(by_row.total_cost_usd, 0)
