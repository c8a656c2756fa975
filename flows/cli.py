"""The admin command line: `python -m flows COMMAND`.

Errors go to stderr as plain Chinese sentences with a non-zero exit; no tracebacks.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from flows.core.errors import FlowError, InvalidForm
from flows.core.validate import DefinitionError
from flows.service.config import configs_dir, load_organisation, load_workflows

SCHEMA_FILE = Path("schema") / "workflow.schema.json"


def _print_json(value) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _json_arg(text: str | None, what: str) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FlowError(f"{what} 不是有效的 JSON：{exc.msg}（第 {exc.pos + 1} 个字符）") from None
    except (ValueError, RecursionError):  # a number of thousands of digits, nesting thousands deep
        raise FlowError(f"{what} 无法处理：数字位数过多或嵌套过深") from None
    if not isinstance(value, dict):
        raise FlowError(f"{what} 须为 JSON 对象，例如 '{{\"deaths\": 1}}'")
    return value


def _service(args):
    from flows.service import open_service

    svc = open_service(args.data_dir)
    for line in svc.config.warning_lines():  # a broken workflow file is skipped, not fatal
        print(line, file=sys.stderr)
    return svc


def _effects_service(args):
    """The service of a command that causes effects, and the stack they are handed to: like the app, a
    stack running on the data directory (`python -m flows up`) carries them out, so the case's runs are
    in its Prefect UI; with none (or `--inline`) they run here right after each commit."""
    stack = _running_stack(args)
    if stack is None:
        return _service(args), None
    svc = stack.service()
    for line in svc.config.warning_lines():
        print(line, file=sys.stderr)
    return svc, stack


def _running_stack(args):
    if getattr(args, "inline", False):
        return None
    from flows.orchestration.handoff import find_stack

    stack, note = find_stack(args.data_dir)
    if note:
        print(f"{note}；处理在本进程内执行。", file=sys.stderr)
    return stack


def _handed(svc, stack, listed: int = 5) -> None:
    """After a command that handed effects to a stack: wait until they were submitted, say where."""
    if stack is None:
        return
    from flows.orchestration.handoff import finish

    for line in finish(stack, svc, listed=listed):
        print(line, file=sys.stderr)


def cmd_validate(args) -> int:
    root = configs_dir()
    paths = [Path(p) for p in args.paths] or [root / "flows"]
    org = load_organisation(root / "organisation.yaml")
    # given files join the installed workflows (or replace one of the same name): names, codes and
    # linked starts are checked against those too
    installed = root / "flows" if args.paths else None
    workflows, _, problems = load_workflows(paths, org, root / "templates", installed=installed)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        print(f"共 {len(problems)} 处错误。", file=sys.stderr)
        return 1
    print(f"通过：{len(workflows)} 个流程定义（{'、'.join(sorted(workflows))}）")
    return 0


def cmd_schema(args) -> int:
    from flows.core.spec import Workflow

    _print_json(Workflow.model_json_schema(by_alias=True))
    return 0


def cmd_list(args) -> int:
    svc = _service(args)
    rows = []
    for name, wf in sorted(svc.config.workflows.items()):
        counts: dict[str, int] = {}
        for case in svc.store.cases(workflow=name):
            counts[case["status"]] = counts.get(case["status"], 0) + 1
        rows.append({"name": name, "title": wf.title, "version": wf.version, "code": wf.code,
                     "open": counts.get("open", 0), "closed": counts.get("closed", 0)})
    _print_json(rows)
    return 0


def cmd_start(args) -> int:
    svc, stack = _effects_service(args)
    case = svc.start(args.workflow, args.as_user, _json_arg(args.data, "--data"), unit=args.unit)
    _print_json(case)
    _deadline_warnings(svc, case)
    _handed(svc, stack)
    return 0


def _deadline_warnings(svc, case: dict) -> None:
    """Say so when a deadline was counted Monday–Friday: nobody entered that year's holidays."""
    from flows.service import desk

    for line in desk.deadline_warnings(svc, case):
        print(f"注意：{line}", file=sys.stderr)


def cmd_act(args) -> int:
    from flows.service import desk
    from flows.service.retry import on_fresh_case

    svc, stack = _effects_service(args)
    data = _json_arg(args.data, "--data")

    def act() -> dict:
        return svc.act(args.case, args.action, args.as_user, data, comment=args.comment,
                       expected_version=args.expect_version)

    if args.expect_version is not None:  # the version the user names: a change since is refused
        case = act()
    else:  # the case as it is; a step someone else took meanwhile is refused all the same
        seen = desk.revision(svc.history(args.case))
        case = on_fresh_case(act, moved=lambda: desk.revision(svc.history(args.case)) != seen)
    _print_json(case)  # printed only after the commit returned: it is durable
    _deadline_warnings(svc, case)
    _handed(svc, stack)
    return 0


def cmd_show(args) -> int:
    svc = _service(args)
    _print_json({"case": svc.case(args.case), "history": svc.history(args.case)})
    return 0


def cmd_verify(args) -> int:
    """The store's checks (chains, seals, journal against the mark) and each case replayed
    (flows.service.verify); one line per problem on stderr, exit 1 when there is any."""
    from flows.service import open_service
    from flows.service.verify import verify

    svc = open_service(args.data_dir, inline_effects=False)  # verifying runs no effect
    try:
        problems = verify(svc)
    finally:
        svc.close()
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        print(f"共 {len(problems)} 处问题。", file=sys.stderr)
        return 1
    if getattr(svc.store, "url", None):  # the PostgreSQL store (WORKFLOW_DATABASE_URL)
        print(f"数据完整（{svc.store.where.strip()}）：哈希链、封印、流程定义快照、案件编号均校验通过，"
              "每个案件与按历史重放的结果一致。")
        return 0
    print("数据完整：哈希链、封印、预写日志、流程定义快照、案件编号均校验通过，每个案件与按历史重放的结果一致。")
    return 0


def cmd_storage_copy(args) -> int:
    """A TinyDB data directory copied into an empty PostgreSQL database, every hash chain kept (storage.pg_copy)."""
    from flows.service.config import data_dir
    from storage import database_url
    from storage.pg_copy import copy_data_dir
    from storage.pg_rows import masked

    url = database_url(args.to)
    source = data_dir(args.data_dir)

    def progress(n: int) -> None:
        if n % 10_000 == 0:
            print(f"已复制 {n} 个案件……", file=sys.stderr)

    r = copy_data_dir(source, url, progress=progress)
    print(f"已把数据目录 {source} 复制到数据库 {masked(url)}：{r.cases} 个案件（{r.events} 条事件，哈希链原样保留）、"
          f"{r.tasks} 条待办、{r.records} 条记录（{r.tables} 个表）、{r.sequences} 个计数器、{r.files} 个文件"
          f"（{r.bytes / 1e6:.1f} MB），用时 {r.seconds:.1f} 秒。")
    print("两边一致：复制前数据目录、复制后数据库各自校验通过，每个案件的版本、历史条数和哈希链末端相同。")
    print("此后让每个进程（应用、流程服务进程、工作节点、命令行）都设置环境变量 WORKFLOW_DATABASE_URL 指向该数据库"
          "（见 deploy/README.md）；python -m flows verify 在设置该变量时校验数据库中的数据。")
    return 0


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise FlowError(f"--now 须为日期时间，如 2025-03-10T09:00，而不是「{text}」") from None


def cmd_sweep(args) -> int:
    now = _moment(args.now)
    if args.dry_run:  # changes nothing, causes no effect
        _print_json(_service(args).sweep_preview(now))
        return 0
    svc, stack = _effects_service(args)
    _print_json(svc.sweep(now))
    _handed(svc, stack)
    return 0


def cmd_publish(args) -> int:
    from flows.service import designer

    svc = _service(args)
    try:
        wf = designer.publish_file(svc, args.as_user, Path(args.file), note=args.note or "")
    except designer.DraftInvalid as exc:
        for problem in exc.problems:
            print(problem.text(), file=sys.stderr)
        print(exc.message, file=sys.stderr)
        return 1
    print(f"已发布：{wf.title}（{wf.name}）第 {wf.version} 版")
    return 0


def cmd_demo(args) -> int:
    from flows.demo import fill

    stack = _running_stack(args)
    if stack is not None:
        print(f"演示案件的处理（出具文书、关联案件、提醒）交给{stack.described}执行，运行记录见其 Prefect 界面"
              f" {stack.prefect_url}（加 --inline 则在本进程内执行，更快）…", file=sys.stderr, flush=True)
    summary = fill(args.data_dir, cases=args.cases, stack=stack)
    _print_json(summary)
    if stack is not None:
        print(summary["effects"], file=sys.stderr)
    return 0


def cmd_up(args) -> int:
    from flows.orchestration.stack import up

    return up(args.data_dir, app_port=args.app_port, prefect_port=args.prefect_port, timeout=args.timeout,
              host=args.host, api_auth=args.api_auth)


def cmd_prepare(args) -> int:
    from flows.orchestration.prefect_home import prepare_template

    print(f"Prefect 数据库模板：{prepare_template(force=args.force)}")
    return 0


def cmd_serve(args) -> int:
    from flows.orchestration.serve import serve_all

    serve_all(args.data_dir, threads=args.threads, executor_only=args.executor_only)
    return 0


def cmd_effects(args) -> int:
    """Effects left pending (or running under a stale claim) by a process that died: list them, or
    with --resume run each once here; one another runner holds now is left to it."""
    from flows.service.effects import effect_label

    svc = _service(args)
    runner = svc.effects
    items = runner.resume() if args.resume else runner.outstanding()
    if not items:
        print("没有待执行的处理。")
        return 0
    counts: dict[str, int] = {}
    for case, effect in items:
        if args.resume:
            status = effect["status"] if effect["status"] in ("done", "failed") else "skipped"
        else:
            status = "todo" if runner.claimable(effect) else "skipped"
        counts[status] = counts.get(status, 0) + 1
        what = effect_label(svc, effect, case) + (f"（{effect['number']}）" if effect.get("number") else "")
        claim = effect.get("claim") or {}
        outcome = {"done": "已完成", "failed": f"失败：{effect.get('error')}", "todo": "待执行",
                   "skipped": f"正由 {claim.get('owner', '其他进程')} 执行（{claim.get('at', '').replace('T', ' ')} 起），跳过"}[status]
        print(f"案件 {case['id']}　{what}：{outcome}")
    if args.resume:
        print(f"共 {len(items)} 项：完成 {counts.get('done', 0)} 项，失败 {counts.get('failed', 0)} 项，"
              f"跳过 {counts.get('skipped', 0)} 项。")
        return 1 if counts.get("failed") else 0
    print(f"共 {len(items)} 项：待执行 {counts.get('todo', 0)} 项，正在执行 {counts.get('skipped', 0)} 项。"
          "运行 python -m flows effects --resume 执行。")
    return 0


JOB_PARAMS = {"drill-plan": ("year",), "drill-publish": ("year",), "statistics": ("period",), "retention": ("older_than_days",),
              "sweep": (), "reassessment": ()}


def cmd_job(args) -> int:
    """Run a periodic job now: through the running Prefect (--submit) or right here. A stack running on
    the data directory is that Prefect, and carries out the effects of a job run here."""
    import os

    if args.inline and args.submit:
        raise FlowError("--inline 与 --submit 不能同时使用")
    stack = _running_stack(args)
    if stack is not None:  # before Prefect is imported: its client reads these once
        os.environ.update(stack.prefect_env())
    from flows.orchestration import job_flows, runtime

    params = {}
    if args.year is not None:
        params["year"] = args.year
    if args.period is not None:
        params["period"] = args.period
    if args.days is not None:
        params["older_than_days"] = args.days
    unknown = sorted(set(params) - set(JOB_PARAMS[args.job]))
    if unknown:
        raise FlowError(f"任务 {args.job} 不接受参数：{'、'.join(unknown)}")
    from flows.orchestration.dispatch import service_for

    svc = stack.service() if stack else service_for(args.data_dir, orchestrated=False if args.inline else None)
    if check := job_flows.INPUT_CHECKS.get(args.job):  # a wrong input is refused here, not inside Prefect
        params = check(svc, params)
    if args.submit:
        run_id = job_flows.submit_job(args.job, params)
        _print_json({"flow_run_id": run_id})
        if stack is not None:
            print(f"任务已交给{stack.described}执行；在 Prefect 界面查看：{stack.run_url(run_id)}", file=sys.stderr)
        return 0
    runtime.use_service(svc)
    flow_obj = job_flows.jobs()[args.job][0]
    _print_json(flow_obj.fn(**params))
    _handed(svc, stack)
    return 0


def cmd_deploy(args) -> int:
    """Register every deployment in a process work pool (the scale-out; see deploy/README.md)."""
    from flows.orchestration.deploy import deploy_all

    _print_json(deploy_all(args.pool, data_dir=args.data_dir, working_dir=args.working_dir))
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="数据目录（默认取环境变量 WORKFLOW_DATA_DIR，否则 ./data）")
    handing = argparse.ArgumentParser(add_help=False)  # commands that cause effects
    handing.add_argument("--inline", action="store_true",
                         help="在本进程内执行处理（出具文书、提醒等），即使数据目录上有正在运行的平台（离线使用）；"
                              "默认：有正在运行的平台（python -m flows up）时交给它执行，运行记录见其 Prefect 界面")
    parser = argparse.ArgumentParser(prog="python -m flows", description="流程平台管理命令")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", parents=[common], help="检查流程定义")
    p.add_argument("paths", nargs="*", help="文件或目录（默认 configs/flows）")
    p.set_defaults(func=cmd_validate)
    sub.add_parser("schema", parents=[common], help="输出流程定义的 JSON Schema").set_defaults(func=cmd_schema)
    sub.add_parser("list", parents=[common], help="列出流程及案件数").set_defaults(func=cmd_list)

    p = sub.add_parser("start", parents=[common, handing], help="发起案件")
    p.add_argument("workflow")
    p.add_argument("--as", dest="as_user", required=True, help="以哪个账号操作")
    p.add_argument("--data", help="表单数据（JSON 对象）")
    p.add_argument("--unit", help="承办单位（默认为发起人所在单位）")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("act", parents=[common, handing], help="对案件执行操作")
    p.add_argument("case")
    p.add_argument("action")
    p.add_argument("--as", dest="as_user", required=True)
    p.add_argument("--data")
    p.add_argument("--comment")
    p.add_argument("--expect-version", type=int, help="只在案件仍是此版本时执行（防止覆盖他人修改）")
    p.set_defaults(func=cmd_act)

    p = sub.add_parser("show", parents=[common], help="显示案件及其历史")
    p.add_argument("case")
    p.set_defaults(func=cmd_show)
    sub.add_parser("verify", parents=[common], help="校验历史记录的哈希链").set_defaults(func=cmd_verify)
    p = sub.add_parser("sweep", parents=[common, handing], help="处理已到期的期限（催办或自动流转）")
    p.add_argument("--now", help="按此时刻判断到期（如 2025-03-10T09:00；默认现在）")
    p.add_argument("--dry-run", action="store_true", help="只列出将会自动流转或催办的期限，不做任何修改")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("publish", parents=[common], help="发布流程定义（YAML 文件或设计器导出的 .json 流程包）为新版本")
    p.add_argument("file")
    p.add_argument("--as", dest="as_user", required=True, help="以哪个管理员账号发布（记入变更记录）")
    p.add_argument("--note", help="版本说明")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("effects", parents=[common], help="列出进程中断后遗留的待执行处理；--resume 逐项执行一次")
    p.add_argument("--resume", action="store_true", help="执行遗留的处理（每项一次；他处正在执行的跳过）")
    p.set_defaults(func=cmd_effects)

    p = sub.add_parser("up", parents=[common], help="一键启动：Prefect 服务器、流程服务进程和应用（Ctrl-C 停止）")
    p.add_argument("--app-port", type=int, default=8501, help="应用端口（默认 8501）")
    p.add_argument("--prefect-port", type=int, default=4200, help="Prefect 服务器及界面端口（默认 4200）")
    p.add_argument("--timeout", type=float, default=120, help="等待全部就绪的最长秒数")
    p.add_argument("--host", default="127.0.0.1",
                   help="监听地址（默认 127.0.0.1，只有本机可访问；如 0.0.0.0 则局域网可访问，此时 Prefect 接口必须认证）")
    p.add_argument("--api-auth", action=argparse.BooleanOptionalAction, default=None,
                   help="Prefect 接口认证（默认：监听本机以外的地址时开启）")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("prepare", parents=[common], help="预先建好 Prefect 数据库（缩短首次启动时间；安装后运行一次）")
    p.add_argument("--force", action="store_true", help="重新生成")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("serve", parents=[common], help="流程服务进程：执行案件处理和定时任务（需 PREFECT_API_URL）")
    p.add_argument("--threads", type=int, default=4, help="同时执行的案件处理数")
    p.add_argument("--executor-only", action="store_true",
                   help="只在本进程内快速执行已登记（如在工作池中）的案件处理部署，不登记、不执行定时任务")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("job", parents=[common, handing], help="立即运行一个定时任务")
    p.add_argument("job", choices=sorted(JOB_PARAMS), help="sweep 期限巡查、drill-plan 年度演练计划、drill-publish 发布演练计划（发起演练案件）、"
                                                          "reassessment 预案定期评估、"
                                                          "statistics 事故统计、retention 清理 Prefect 运行记录")
    p.add_argument("--year", type=int, help="drill-plan、drill-publish：年度")
    p.add_argument("--period", help="statistics：统计期，如 2025-03、2025-Q1、2025")
    p.add_argument("--days", type=float, help="retention：保留天数")
    p.add_argument("--submit", action="store_true", help="交给正在运行的 Prefect 执行（不等待）")
    p.set_defaults(func=cmd_job)

    p = sub.add_parser("deploy", parents=[common], help="把全部部署登记到 Prefect 的 process 工作池（多机部署）")
    p.add_argument("--pool", default="safety-process", help="工作池名称（默认 safety-process）")
    p.add_argument("--working-dir", help="工作节点上本项目的目录（默认本目录）")
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("storage", help="案件数据的存储（数据目录中的 TinyDB 文件，或 PostgreSQL 数据库）")
    storage_sub = p.add_subparsers(dest="storage_command", required=True)
    p = storage_sub.add_parser("copy", parents=[common], help="把数据目录复制到一个空的 PostgreSQL 数据库（哈希链原样保留）")
    p.add_argument("--to", required=True, metavar="URL",
                   help="目标数据库，如 postgresql://safety@数据库机:5432/safety（口令宜放在 ~/.pgpass，不写在地址里）")
    p.set_defaults(func=cmd_storage_copy)

    p = sub.add_parser("demo", parents=[common, handing], help="生成演示数据")
    p.add_argument("--cases", type=int, default=0, help="另外生成的历史案件数（用于压力测试）")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InvalidForm as exc:
        for path, message in exc.errors.items():  # the field by its label, and the key the JSON uses
            label = exc.labels.get(path)
            where = f"{label}（{path}）" if label and label != path else path
            print(f"{where}：{message}" if where else message, file=sys.stderr)
        return 2
    except DefinitionError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 1
    except FlowError as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        return 2
    except Exception as exc:  # storage errors and the unexpected: one plain line, no traceback
        from storage import StorageError

        if isinstance(exc, StorageError):
            print(f"错误：{exc}", file=sys.stderr)
            return 3
        print(f"内部错误：{type(exc).__name__}: {exc}", file=sys.stderr)
        return 70
