"""Two figures of ptwalk-sim's predictions: memwalk's slowdown against working-set size
under shadow and nested paging, per page configuration (the chase alone, ratio to the
native model), and the exits per workload under each."""
from hvtools.figures import Figure, finish, run_label


def _ws_label(ws):
    return f"{ws >> 20} MiB" if ws >= 1 << 20 else f"{ws >> 10} KiB"


def slowdown(run, exp):
    c = exp.module("compare")
    configs = [pc for pc in c.PAGE_CONFIGS if c.memwalk_sizes(run, pc)]
    if not configs:
        return None, "shadow-vs-ept: no ptwalk-sim memwalk rows in this run (its matrix " \
                     "runs `ptwalk-sim predict`)"
    sizes = sorted({ws for pc in configs for ws in c.memwalk_sizes(run, pc)})
    series, cols = [], []
    for pc in configs:
        for mode in ("shadow", "nested"):
            series.append(f"{mode} ({pc.replace('page=', 'guest ').replace('host=', 'host ')})")
            cols.append((pc, mode))
    values = [[c.sim_value(run, "sim-memwalk", f"{pc} ws={ws}", mode, "slowdown")
               for pc, mode in cols] for ws in sizes]
    caption = ("ptwalk-sim's predicted slowdown of memwalk's random chase (the timed part, "
               "after the working set is mapped) over the native model, by working-set "
               "size (each over native with the same guest pages), under shadow and nested "
               "paging with 4 KiB pages, 2 MiB guest pages on "
               "4 KiB host pages, and 2 MiB pages on both. A model (sim/README.md), not a "
               "measurement: cycles follow its latency parameters.")
    return finish(Figure("shadow-vs-ept-slowdown", "memwalk: predicted slowdown against "
                         "working set\n" + run_label(run), "cycles / native model",
                         [_ws_label(ws) for ws in sizes], series, values, logy=False,
                         refline=1.0, reflabel="native", caption=caption))


def exits(run, exp):
    c = exp.module("compare")
    pc = c.PAGE_CONFIGS[0]
    xl, values = [], []
    for w in c.WORKLOADS:
        s = c.sim_value(run, f"sim-{w}", pc, "shadow", "exits_whole_run")
        n = c.sim_value(run, f"sim-{w}", pc, "nested", "exits_whole_run")
        if s is None and n is None:
            continue
        xl.append(w)
        values.append([s, n])
    if not xl:
        return None, "shadow-vs-ept: no ptwalk-sim workload rows in this run"
    caption = ("ptwalk-sim's predicted exits over each workload's whole trace with 4 KiB "
               "pages (log scale): shadow paging's page-fault, fill, invlpg and CR3 exits "
               "against nested paging's first touches of guest-physical pages.")
    return finish(Figure("shadow-vs-ept-exits", "Predicted exits, shadow against nested\n" +
                         run_label(run), "exits (log scale)", xl, ["shadow", "nested"],
                         values, caption=caption))


def figures(run, exp):
    return [slowdown(run, exp), exits(run, exp)]
