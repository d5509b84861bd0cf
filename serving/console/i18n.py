"""Console strings in Chinese and English, and how a request picks its language.

A plain dictionary rather than gettext catalogs: two languages, one small console, and no compile step for the
``.mo`` files in CI. Every key must exist in both languages (a test checks it), so a page never shows a raw key.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

LANGS: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = "zh"  # customs staff at Chinese factories; English on request or by browser preference
LANG_COOKIE = "clearance_lang"

STRINGS: dict[str, dict[str, str]] = {
    "app_title": {"zh": "通关助手 · 归类与风险控制台", "en": "Clearance · classification and risk console"},
    "nav_classify": {"zh": "商品归类", "en": "Classify"},
    "nav_shipments": {"zh": "运单检查", "en": "Check shipments"},
    "nav_models": {"zh": "模型", "en": "Models"},
    "nav_reviews": {"zh": "审核记录", "en": "Review log"},
    "lang_switch": {"zh": "English", "en": "中文"},
    "error_title": {"zh": "输入有误", "en": "Please correct the input"},
    "field": {"zh": "字段", "en": "Field"},
    "unavailable": {"zh": "模型尚未加载，请稍后再试。", "en": "The models are not loaded yet; try again shortly."},
    # Sign-in
    "signin_title": {"zh": "登录", "en": "Sign in"},
    "sign_in": {"zh": "登录", "en": "Sign in"},
    "sign_out": {"zh": "退出登录", "en": "Sign out"},
    "signed_in_as": {"zh": "当前登录的 API 密钥", "en": "Signed in with the API key"},
    "api_key": {"zh": "API 密钥", "en": "API key"},
    "api_key_hint": {
        "zh": "粘贴管理员发给您的个人 API 密钥（clr_ 开头）。密钥只用于本次验证，不会保存在浏览器中；审核记录将以该密钥的名称署名。",
        "en": "Paste the personal API key your administrator gave you (it starts with clr_). It is checked once and not "
              "kept in the browser; your reviews are recorded under the key's name.",
    },
    "signin_reason_expired": {"zh": "登录已过期，请重新登录。", "en": "Your session has expired; please sign in again."},
    "signin_reason_revoked": {"zh": "您的 API 密钥已被吊销，请使用有效的密钥登录。",
                              "en": "Your API key has been revoked; sign in with a valid key."},
    "signin_reason_unknown": {"zh": "登录已失效（可能服务已重启），请重新登录。",
                              "en": "Your session is no longer valid (the service may have restarted); please sign in again."},
    "signin_reason_signed_out": {"zh": "您已退出登录。", "en": "You have signed out."},
    "forbidden_title": {"zh": "没有权限", "en": "Not allowed"},
    "forbidden_text": {"zh": "此页面需要具有以下权限范围的 API 密钥：", "en": "This page needs an API key with the scope"},
    "forbidden_granted": {"zh": "您的密钥“{name}”具有的权限范围：", "en": "Your key '{name}' has:"},
    "forbidden_help": {"zh": "请向管理员申请具有该权限的密钥，或退出后用其他密钥登录。",
                       "en": "Ask an administrator for a key with that scope, or sign out and sign in with another key."},
    "or": {"zh": "或", "en": "or"},
    # Classify
    "classify_title": {"zh": "商品归类建议", "en": "HS code suggestion"},
    "description": {"zh": "商品描述", "en": "Product description"},
    "description_hint": {"zh": "中文或英文，例如：不锈钢真空保温杯 500ml",
                         "en": "Chinese or English, e.g. stainless steel vacuum flask 500ml"},
    "elements": {"zh": "申报要素（可选）", "en": "Declaration elements (optional)"},
    "element_key": {"zh": "要素", "en": "Element"},
    "element_value": {"zh": "内容", "en": "Value"},
    "add_row": {"zh": "添加一行", "en": "Add row"},
    "remove_row": {"zh": "删除", "en": "Remove"},
    "suggest": {"zh": "获取建议", "en": "Suggest"},
    "top_k": {"zh": "候选数", "en": "Candidates"},
    "candidates": {"zh": "候选编码", "en": "Candidates"},
    "code": {"zh": "编码", "en": "Code"},
    "level": {"zh": "位数", "en": "Digits"},
    "confidence": {"zh": "置信度", "en": "Confidence"},
    "hierarchy": {"zh": "章 / 品目 / 子目", "en": "Chapter / heading / subheading"},
    "level_2": {"zh": "章", "en": "Chapter"},
    "level_4": {"zh": "品目", "en": "Heading"},
    "level_6": {"zh": "子目", "en": "Subheading"},
    "level_8": {"zh": "本国子目", "en": "National line"},
    "level_10": {"zh": "本国子目", "en": "National line"},
    "evidence": {"zh": "依据（历史归类）", "en": "Evidence (past rulings)"},
    "tariff_evidence": {"zh": "依据（税则文本）", "en": "Evidence (tariff text)"},
    "basis": {"zh": "依据来源", "en": "Rests on"},
    "basis_rulings": {"zh": "历史归类", "en": "rulings"},
    "basis_tariff_text": {"zh": "仅税则文本", "en": "tariff text only"},
    "basis_both": {"zh": "历史归类 + 税则文本", "en": "rulings + tariff text"},
    "weak_tariff_only": {"zh": "仅有较弱的税则文本依据，规则库中没有支持该编码的历史归类，需要人工复核。",
                         "en": "Only weak tariff-text evidence: no ruling in the library supports this code; "
                               "needs review."},
    "no_ruling_for_code": {"zh": "规则库中无该编码的归类", "en": "no ruling for this code"},
    "similarity": {"zh": "相似度", "en": "Similarity"},
    "source": {"zh": "来源", "en": "Source"},
    "date": {"zh": "日期", "en": "Date"},
    "answer": {"zh": "建议编码", "en": "Suggested code"},
    "no_answer": {"zh": "无法给出足够可信的编码", "en": "No code is confident enough"},
    "needs_review": {"zh": "需要人工复核", "en": "Needs review"},
    "confident": {"zh": "可信", "en": "Confident"},
    "pre_classification": {
        "zh": "置信度偏低：建议向海关提交预归类申请，并补充以下申报要素后再试。",
        "en": "Low confidence: consider filing a pre-classification (预归类) application with customs, and add the "
              "declaration elements below, then try again.",
    },
    "missing_elements": {"zh": "缺少的申报要素", "en": "Missing declaration elements"},
    "reasons": {"zh": "原因", "en": "Reasons"},
    "model": {"zh": "模型", "en": "Model"},
    "index": {"zh": "索引", "en": "Index"},
    "reviewer": {"zh": "审核人", "en": "Reviewer"},
    "reviewer_from_key": {"zh": "（登录所用 API 密钥的名称）", "en": "(the name of the API key you signed in with)"},
    "reviewer_hint": {"zh": "您的姓名（浏览器会记住）", "en": "Your name (remembered by this browser)"},
    "accept": {"zh": "采纳", "en": "Accept"},
    "accept_needs_hs6": {"zh": "不足6位，请用“更正”填写完整编码", "en": "Fewer than 6 digits: use Override with a full code"},
    "override": {"zh": "更正编码", "en": "Override"},
    "override_code": {"zh": "正确编码", "en": "Correct code"},
    "override_reason": {"zh": "更正理由", "en": "Reason"},
    "save_override": {"zh": "保存更正", "en": "Save override"},
    "saved_accept": {"zh": "已采纳并保存为归类依据", "en": "Accepted and saved as a ruling"},
    "saved_override": {"zh": "已更正并保存为归类依据", "en": "Override saved as a ruling"},
    "saved_searchable": {"zh": "该依据已可立即检索。", "en": "It is searchable right away."},
    "saved_not_searchable": {
        "zh": "已保存，但未能加入当前索引（重启后生效）：",
        "en": "Saved, but it could not be added to the served index (it will be after a restart): ",
    },
    "ruling": {"zh": "归类依据", "en": "Ruling"},
    "classify_again": {"zh": "再次归类", "en": "Classify again"},
    # Shipments
    "shipments_title": {"zh": "运单检查与风险评分", "en": "Shipment checks and risk scores"},
    "paste_json": {"zh": "粘贴 JSON（单个运单、数组，或 {\"shipments\": [...]}）",
                   "en": "Paste JSON (one shipment, a list, or {\"shipments\": [...]})"},
    "or_upload_csv": {"zh": "或上传 CSV 文件（UTF-8 编码）", "en": "or upload a CSV file (UTF-8)"},
    "check": {"zh": "检查并评分", "en": "Check and score"},
    "file_too_large": {"zh": "文件过大（{size} 字节，上限 {max} 字节），未上传。",
                       "en": "The file is too large ({size} bytes; the limit is {max}); nothing was uploaded."},
    "csv_layout": {"zh": "CSV 格式说明", "en": "CSV layout"},
    "csv_layout_text": {
        "zh": "每行一个订单商品行；同一运单的多行使用相同的 shipment_id，运单级字段只需在第一行填写（其余行留空或相同）。"
              "列名是 JSON 字段的路径（用“.”连接）；订单商品行字段以 order.lines. 开头，报关单商品行字段以 declaration.lines. 开头，"
              "第 k 行填写各单据的第 k 个商品行；true/false 表示是否；时间用带时区的 ISO 8601 格式；数字不用千位分隔符。"
              "文件须为 UTF-8 编码（Excel：另存为“CSV UTF-8”）。",
        "en": "One row per order line; rows of the same shipment share its shipment_id, and shipment-level columns need "
              "to be filled on its first row only (later rows blank or equal). Column names are JSON field paths joined "
              "with '.'; order-line fields start with order.lines. and declaration-line fields with declaration.lines.: "
              "row k holds the k-th line of each document. Booleans are true/false, times ISO 8601 with a zone, "
              "numbers without thousands separators. The file must be UTF-8 (Excel: save as 'CSV UTF-8').",
    },
    "download_template": {"zh": "下载 CSV 模板", "en": "Download the CSV template"},
    "columns": {"zh": "列", "en": "Columns"},
    "type": {"zh": "类型", "en": "Type"},
    "required": {"zh": "必填", "en": "required"},
    "allowed_values": {"zh": "可选值", "en": "Allowed values"},
    "example": {"zh": "示例", "en": "Example"},
    "results": {"zh": "结果", "en": "Results"},
    "shipment": {"zh": "运单", "en": "Shipment"},
    "risk": {"zh": "风险等级", "en": "Risk"},
    "risk_low": {"zh": "低", "en": "low"},
    "risk_medium": {"zh": "中", "en": "medium"},
    "risk_high": {"zh": "高", "en": "high"},
    "delay": {"zh": "预计通关时长（小时）P50 / P90", "en": "Clearance delay (hours) P50 / P90"},
    "delay_short": {"zh": "时长", "en": "Delay"},
    "findings": {"zh": "检查发现", "en": "Findings"},
    "advisories": {"zh": "建议", "en": "Advisories"},
    "no_findings": {"zh": "无", "en": "none"},
    "download_csv": {"zh": "下载结果 CSV", "en": "Download results as CSV"},
    "rejected_items": {"zh": "以下运单未通过校验，未评分：", "en": "These shipments failed validation and were not scored:"},
    "scored_n": {"zh": "已评分运单数", "en": "Shipments scored"},
    # Models
    "models_title": {"zh": "在用模型", "en": "Served models"},
    "name": {"zh": "名称", "en": "Name"},
    "version": {"zh": "版本", "en": "Version"},
    "run_id": {"zh": "运行 ID", "en": "Run id"},
    "served_since": {"zh": "上线时间", "en": "Served since"},
    "metrics": {"zh": "评估指标", "en": "Evaluation metrics"},
    "plots": {"zh": "图表", "en": "Plots"},
    "no_plots": {"zh": "该版本没有记录图表。", "en": "No plots were logged for this version."},
    "plots_unavailable": {"zh": "无法从模型库读取图表：", "en": "Plots could not be read from the registry: "},
    "no_models": {"zh": "当前没有在用模型。", "en": "No models are being served."},
    # Reviews
    "reviews_title": {"zh": "审核记录", "en": "Review log"},
    "when": {"zh": "时间", "en": "When"},
    "action": {"zh": "操作", "en": "Action"},
    "action_accept": {"zh": "采纳", "en": "accepted"},
    "action_override": {"zh": "更正", "en": "overrode"},
    "query": {"zh": "商品描述", "en": "Description"},
    "suggested": {"zh": "模型建议", "en": "Suggested"},
    "final": {"zh": "最终编码", "en": "Final"},
    "export_csv": {"zh": "导出 CSV", "en": "Export CSV"},
    "no_reviews": {"zh": "还没有审核记录。", "en": "No reviews yet."},
    "filter": {"zh": "筛选", "en": "Filter"},
    "all": {"zh": "全部", "en": "all"},
    "newer": {"zh": "较新", "en": "Newer"},
    "older": {"zh": "较早", "en": "Older"},
    "total": {"zh": "共", "en": "Total"},
    # KPI dashboard
    "nav_kpi": {"zh": "绩效仪表盘", "en": "KPI dashboard"},
    "kpi_title": {"zh": "通关绩效仪表盘", "en": "Customs performance dashboard"},
    "kpi_from": {"zh": "起始日期", "en": "From"},
    "kpi_to": {"zh": "截止日期", "en": "To"},
    "kpi_group_by": {"zh": "分组", "en": "Group by"},
    "kpi_show": {"zh": "查看", "en": "Show"},
    "kpi_by_week": {"zh": "按周", "en": "Week"},
    "kpi_by_month": {"zh": "按月", "en": "Month"},
    "kpi_by_port": {"zh": "按出口口岸", "en": "Export port"},
    "kpi_by_carrier": {"zh": "按承运商", "en": "Carrier"},
    "kpi_by_channel": {"zh": "按运输渠道", "en": "Channel"},
    "kpi_by_hs_chapter": {"zh": "按 HS 章", "en": "HS chapter"},
    "kpi_period_note": {"zh": "本期共 {shipments} 票运单，其中 {outcomes} 票已有通关结果。“—”表示该期没有数据（不是 0）。",
                        "en": "{shipments} shipments in the period, {outcomes} with a clearance outcome. "
                              "“—” means no data for that period (not zero)."},
    "kpi_no_data": {"zh": "无数据", "en": "no data"},
    "kpi_section_efficiency": {"zh": "效率", "en": "Efficiency"},
    "kpi_section_cost": {"zh": "成本", "en": "Cost"},
    "kpi_section_quality": {"zh": "质量", "en": "Quality"},
    "kpi_section_coordination": {"zh": "协同（接口可用性与延迟）", "en": "Coordination (API availability and latency)"},
    "kpi_n_shipments": {"zh": "运单数", "en": "Shipments"},
    "kpi_n_outcomes": {"zh": "有结果", "en": "With outcome"},
    "kpi_n_reviews": {"zh": "审核次数", "en": "Reviews"},
    "kpi_preparation_hours_p50": {"zh": "单证准备时长中位数（订单→申报，小时）",
                                  "en": "Preparation, order → declaration (median h)"},
    "kpi_release_hours_p50": {"zh": "放行时长 P50（小时）", "en": "Release time P50 (h)"},
    "kpi_release_hours_p90": {"zh": "放行时长 P90（小时）", "en": "Release time P90 (h)"},
    "kpi_exception_handling_hours": {"zh": "异常处理时长中位数（小时）", "en": "Exception handling (median h)"},
    "kpi_cost_per_declaration": {"zh": "单票报关成本", "en": "Cost per declaration"},
    "kpi_demurrage_incidence": {"zh": "滞港/滞箱发生率", "en": "Demurrage/detention incidence"},
    "kpi_demurrage_amount": {"zh": "滞港/滞箱费用合计", "en": "Demurrage/detention amount"},
    "kpi_first_pass_rate": {"zh": "报关一次通过率", "en": "First-pass rate"},
    "kpi_data_error_rate": {"zh": "数据差错率", "en": "Data-error rate"},
    "kpi_three_document_match_rate": {"zh": "三单对碰一致率", "en": "Three-document match rate"},
    "kpi_override_rate": {"zh": "归类改判率（审核记录）", "en": "Classification override rate"},
    "kpi_api_availability": {"zh": "接口可用率", "en": "API availability"},
    "kpi_api_latency_p50_ms": {"zh": "接口延迟 P50（毫秒）", "en": "API latency P50 (ms)"},
    "kpi_api_latency_p90_ms": {"zh": "接口延迟 P90（毫秒）", "en": "API latency P90 (ms)"},
    "kpi_api_requests": {"zh": "接口请求数", "en": "API requests"},
    "kpi_service_note": {"zh": "接口数据来自本服务自身的运行指标（自本次启动以来），不随所选期间变化。",
                         "en": "From the service's own metrics since this process started; not limited to the period."},
    "kpi_table": {"zh": "明细", "en": "Details"},
    # Model monitoring
    "monitoring_title": {"zh": "模型监控", "en": "Model monitoring"},
    "mon_window": {"zh": "最近 {weeks} 周、有通关结果的运单：{n} 票。", "en": "Last {weeks} weeks of shipments with outcomes: {n}."},
    "mon_no_outcomes": {"zh": "还没有带通关结果的运单，无法评估该模型。",
                        "en": "No stored shipments with outcomes yet: nothing to evaluate this model on."},
    "mon_coverage_p50": {"zh": "P50 覆盖率（应约 50%）", "en": "P50 coverage (should be ≈ 50%)"},
    "mon_coverage_p90": {"zh": "P90 覆盖率（应约 90%）", "en": "P90 coverage (should be ≈ 90%)"},
    "mon_pinball_p50": {"zh": "P50 分位损失（小时）", "en": "P50 pinball loss (h)"},
    "mon_pinball_p90": {"zh": "P90 分位损失（小时）", "en": "P90 pinball loss (h)"},
    "mon_precision_at_review_rate": {"zh": "按审核比例 {rate}% 的命中率（高风险）",
                                     "en": "Precision at the review rate ({rate}%), high risk"},
    "mon_ece_high": {"zh": "高风险概率校准误差（ECE）", "en": "Calibration error of P(high) (ECE)"},
    "mon_reliability": {"zh": "校准曲线（预测高风险概率 vs 实际比例）", "en": "Reliability: predicted P(high) vs observed share"},
    "mon_drift": {"zh": "特征漂移（PSI，在线运单 vs 训练数据）", "en": "Feature drift (PSI, live shipments vs training frame)"},
    "mon_drift_threshold": {"zh": "PSI 超过 {threshold} 视为漂移。", "en": "PSI above {threshold} marks drift."},
    "mon_drifted": {"zh": "已漂移", "en": "drifted"},
    "mon_feature": {"zh": "特征", "en": "Feature"},
    "mon_no_profile": {"zh": "该模型训练时未保存特征分布，无法计算漂移（重新训练后即可）。",
                       "en": "This model was trained without a feature profile: drift needs a retrained version."},
    "mon_in_range": {"zh": "各周指标均在训练时的范围内。", "en": "Every week's figures are within their training-time range."},
    "mon_training_range": {"zh": "训练时范围", "en": "Training-time range"},
    "mon_n": {"zh": "票数", "en": "n"},
    "mon_all_metrics": {"zh": "全部评估指标", "en": "All evaluation metrics"},
    "kpi_total": {"zh": "合计", "en": "Total"},
    # Tariff facts and the HS 2028 transition (issue 11)
    "nav_transition": {"zh": "HS 2028 转换", "en": "HS 2028"},
    "rebate": {"zh": "出口退税率", "en": "Export rebate"},
    "vat": {"zh": "增值税率", "en": "VAT"},
    "supervision": {"zh": "监管条件", "en": "Supervision conditions"},
    "inspection": {"zh": "检验检疫类别", "en": "Inspection category"},
    "unknown": {"zh": "未知", "en": "unknown"},
    "none": {"zh": "无", "en": "none"},
    "tariff_lines": {"zh": "税号及税则信息", "en": "National lines and tariff facts"},
    "tariff_differences": {"zh": "候选编码的退税率与监管条件差异", "en": "Where the top candidates differ"},
    "edition": {"zh": "版本", "en": "Edition"},
    "hs2028_badge_renumbered": {"zh": "HS 2028 改号为 {code}", "en": "HS 2028: renumbered {code}"},
    "hs2028_badge_split": {"zh": "HS 2028 拆分为 {codes}，需复核", "en": "HS 2028: split into {codes}, needs review"},
    "hs2028_badge_new": {"zh": "HS 2028 编码", "en": "HS 2028 code"},
    "transition_title": {"zh": "HS 2028 转换：受影响的归类", "en": "HS 2028 transition: affected rulings"},
    "transition_intro": {
        "zh": "HS 2028 于 {date} 起实施。下表列出规则库中编码被改号或拆分的历史归类与审核决定；拆分的编码需逐个商品复核，"
              "复核结果以新编码记为审核归类，日期为实施日。",
        "en": "HS 2028 enters into force on {date}. Below are the library's rulings and reviewer decisions whose codes "
              "are renumbered or split; a split needs a product-level review, recorded as a reviewer ruling under the "
              "new code, dated from the effective date."},
    "transition_no_correlation": {
        "zh": "尚未导入 HS 2022 → HS 2028 对应表：请运行 clearance nomenclature import-correlation 文件。",
        "en": "No HS 2022 → HS 2028 correlation is imported: run clearance nomenclature import-correlation FILE."},
    "transition_renumbered": {"zh": "改号", "en": "Renumbered"},
    "transition_split": {"zh": "拆分", "en": "Split"},
    "transition_codes": {"zh": "个编码", "en": "codes"},
    "transition_rulings": {"zh": "条归类", "en": "rulings"},
    "transition_decisions": {"zh": "条审核决定", "en": "reviewer decisions"},
    "transition_resolved_n": {"zh": "条已复核", "en": "resolved"},
    "transition_scanned": {"zh": "条归类已检查", "en": "rulings scanned"},
    "transition_new_code": {"zh": "HS 2028 编码", "en": "HS 2028 code"},
    "transition_resolve": {"zh": "确认新编码", "en": "Resolve"},
    "transition_resolved": {"zh": "已记录复核结果", "en": "Split resolved"},
    "transition_classify_again": {"zh": "用该商品重新归类", "en": "Classify this product again"},
    "transition_more": {"zh": "条未显示（见 CSV 导出）", "en": "more (see the CSV export)"},
    "transition_none": {"zh": "规则库中没有受影响的归类。", "en": "No ruling in the library is affected."},
}


# Chinese headlines for the console's own input errors (keyed by the error code the console raises them with). The
# English page shows the detailed English message instead; the field/reason list below the headline is the same in both.
ERRORS_ZH: dict[str, str] = {
    "not_split": "该编码在 HS 2028 中没有拆分，无需复核。",
    "too_large": "内容过大，超过了大小限制，未做任何处理。",
    "context_damaged": "找不到本次决定对应的建议（页面数据缺失或损坏），请重新归类。",
    "accept_not_suggested": "采纳的编码不在本次建议的候选中。",
    "bad_filter": "筛选条件无效。",
    "bad_top_k": "候选数必须是 1 到 20 之间的数字。",
    "json_and_file": "请粘贴 JSON 或上传 CSV 文件，二者选其一。",
    "empty_file": "上传的文件是空的。",
    "no_shipments_input": "请粘贴运单 JSON 或选择 CSV 文件。",
    "bad_elements": "申报要素填写不完整。",
    "empty_text": "请输入商品描述。",
    "text_too_long": "商品描述过长。",
    "not_utf8": "上传的文件不是 UTF-8 编码（可能是 GBK）。请在 Excel 中另存为“CSV UTF-8”后重新上传。",
    "bad_json": "粘贴的内容不是有效的运单 JSON。",
    "too_many_shipments": "运单数量超过控制台单次上限，请分批或使用 API。",
    "bad_csv": "CSV 文件格式不符合运单模板。",
    "decision_not_saved": "未保存：请更正以下问题后重新提交。",
    "unavailable": "模型尚未加载，请稍后再试。",
    "csrf_failed": "表单安全令牌缺失或与当前登录不符，未做任何处理。请刷新页面后重新提交。",
    "signin_form_expired": "登录表单已过期或并非来自本控制台，请重试。",
    "empty_key": "请粘贴您的 API 密钥。",
    "bad_key": "该 API 密钥无效、格式错误或已被吊销。",
}


def error_headline(lang: str, code: str, message: str) -> str:
    return ERRORS_ZH.get(code, message) if lang == "zh" else message


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **fmt)`` for one language; an unknown key raises so a typo fails a test instead of showing up."""
    lang = lang if lang in LANGS else DEFAULT_LANG

    def t(key: str, **fmt: object) -> str:
        text = STRINGS[key][lang]
        return text.format(**fmt) if fmt else text

    return t


def pick(lang: str, en: str | None, zh: str | None) -> str:
    """The text in the page language when the source has it, else the other one (nomenclature names, reasons)."""
    first, second = (zh, en) if lang == "zh" else (en, zh)
    return first or second or ""


def resolve_lang(request: Request) -> str:
    """``?lang=`` wins (and is remembered by the router in a cookie), then the cookie, then Accept-Language."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGS:
        return cookie
    accept = request.headers.get("accept-language", "").lower()
    if accept:
        first = accept.split(",")[0].strip()
        if first.startswith("en"):
            return "en"
        if first.startswith("zh"):
            return "zh"
    return DEFAULT_LANG
