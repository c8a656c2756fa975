"""新建: the workflows this person may start, and the start form."""
from __future__ import annotations

import streamlit as st

from flows.core.errors import FlowError, InvalidForm
from flows.service import desk
from ui.components import form
from ui.components.text import plain
from ui.session import service, user_or_stop

svc = service()
user = user_or_stop(svc)
st.subheader("新建案件")
workflows = desk.startable(svc, user)
if not workflows:
    st.info("您没有可以发起的流程。")
    st.stop()
names = [wf.name for wf in workflows]
titles = {wf.name: wf.title for wf in workflows}
chosen = st.selectbox("流程", names, format_func=titles.get, key="new-workflow")
wf = svc.definition(chosen)
if wf.description:
    st.caption(plain(wf.description))
errors = st.session_state.get(f"new-errors-{chosen}", {})
values = form.render(svc, wf, wf.start_form, key=f"new-{chosen}", errors=errors)
if errors:
    st.error("表单有误，请按提示修改后再提交。")
if st.button("发起", type="primary", key=f"new-submit-{chosen}"):
    try:
        case = svc.start(chosen, user, values)
    except InvalidForm as exc:
        st.session_state[f"new-errors-{chosen}"] = exc.errors
        st.rerun()
    except FlowError as exc:
        st.error(str(exc))
    else:
        st.session_state.pop(f"new-errors-{chosen}", None)
        st.switch_page("pages/case.py", query_params={"id": case["id"]})
