"""UI strings in Chinese and English. t(key, lang) looks one up; a missing key is a bug (KeyError)."""
from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "title": {"en": "MedAssist", "zh": "MedAssist 医学助手"},
    "subtitle": {"en": "Local medical reasoning assistant — runs entirely on this computer",
                 "zh": "本地医学推理助手 — 完全在本机运行"},
    "notice": {"en": "⚕️ **MedAssist supports, and does not replace, clinical judgement.** Answers may be wrong or "
                     "incomplete; verify against current guidelines and the patient in front of you. "
                     "In an emergency, call your local emergency number.",
               "zh": "⚕️ **MedAssist 仅供辅助参考，不能替代临床判断。** 回答可能有误或不完整，请结合最新指南和患者实际情况核实。"
                     "紧急情况请立即拨打当地急救电话（中国：120）。"},
    "emergency": {"en": "🚨 **Possible emergency** ({flags}). If this describes a patient now, act on it: "
                        "call emergency services or escalate immediately — do not wait for this answer.",
                  "zh": "🚨 **可能为急症**（{flags}）。如为当前患者，请立即处理：拨打 120 或立即上报，不要等待本回答。"},
    "flag.cardiac": {"en": "acute coronary syndrome signs", "zh": "急性冠脉综合征征象"},
    "flag.stroke": {"en": "stroke signs", "zh": "卒中征象"},
    "flag.anaphylaxis": {"en": "anaphylaxis", "zh": "严重过敏反应"},
    "flag.suicide": {"en": "suicide risk", "zh": "自杀风险"},
    "flag.bleeding": {"en": "severe bleeding", "zh": "大出血"},
    "flag.breathing": {"en": "severe breathing difficulty", "zh": "严重呼吸困难"},
    "flag.consciousness": {"en": "reduced consciousness", "zh": "意识障碍"},
    "flag.sepsis": {"en": "possible sepsis", "zh": "可能脓毒症"},
    "tab.qa": {"en": "Q&A", "zh": "问答"},
    "tab.lit": {"en": "Literature", "zh": "文献"},
    "tab.outline": {"en": "Outline", "zh": "论文大纲"},
    "tab.settings": {"en": "Settings / About", "zh": "设置 / 关于"},
    "reasoning": {"en": "Reasoning", "zh": "思考过程"},
    "question": {"en": "Your question", "zh": "您的问题"},
    "placeholder": {"en": "Describe the clinical question… (Enter to send, Shift+Enter for a new line)",
                    "zh": "请描述临床问题…（Enter 发送，Shift+Enter 换行）"},
    "send": {"en": "Send", "zh": "发送"},
    "stop": {"en": "Stop", "zh": "停止"},
    "new_chat": {"en": "New chat", "zh": "新对话"},
    "regenerate": {"en": "Regenerate", "zh": "重新生成"},
    "controls": {"en": "Generation settings", "zh": "生成设置"},
    "budget": {"en": "Thinking budget (tokens)", "zh": "思考预算（token）"},
    "temperature": {"en": "Temperature", "zh": "温度"},
    "max_len": {"en": "Max answer length (tokens)", "zh": "最大回答长度（token）"},
    "examples": {"en": "Examples", "zh": "示例"},
    "history": {"en": "History", "zh": "历史记录"},
    "search": {"en": "Search history", "zh": "搜索历史"},
    "conversations": {"en": "Conversations", "zh": "对话"},
    "open": {"en": "Open", "zh": "打开"},
    "delete": {"en": "Delete", "zh": "删除"},
    "export": {"en": "Export Markdown", "zh": "导出 Markdown"},
    "download": {"en": "Download", "zh": "下载"},
    "language": {"en": "Language", "zh": "语言"},
    "model": {"en": "Model", "zh": "模型"},
    "preparing": {"en": "Preparing the model (first run only): {stage} {pct}% — {msg}",
                  "zh": "正在准备模型（仅首次运行）：{stage} {pct}% — {msg}"},
    "loading": {"en": "Loading the model…", "zh": "正在加载模型…"},
    "model_error": {"en": "The model could not be prepared: {msg}", "zh": "模型准备失败：{msg}"},
    "not_ready": {"en": "The model is still being prepared — please wait a moment and ask again.",
                  "zh": "模型仍在准备中，请稍候再提问。"},
    "empty": {"en": "Please type a question first.", "zh": "请先输入问题。"},
    "too_long": {"en": "The question is too long ({n} characters; the limit is {limit}).",
                 "zh": "问题过长（{n} 字符，上限 {limit}）。"},
    "stopped": {"en": "(stopped)", "zh": "（已停止）"},
    "stats": {"en": "first token {ttft:.2f} s · {rate:.1f} tokens/s · {n} tokens",
              "zh": "首个 token {ttft:.2f} 秒 · {rate:.1f} token/秒 · 共 {n} 个 token"},
    "error": {"en": "Something went wrong: {msg}", "zh": "出错了：{msg}"},
    "nothing_to_export": {"en": "Nothing to export yet.", "zh": "暂无可导出的内容。"},
    "coming": {"en": "This tab is part of a later release. Use the Q&A tab for now.",
               "zh": "此功能将在后续版本提供，目前请使用“问答”标签页。"},
    "about": {"en": "**Data folder:** `{data}`  \n**Model folder:** `{models}`  \nNothing leaves this computer: no "
                    "analytics, no internet access. History is stored with identifiers redacted.",
              "zh": "**数据目录：** `{data}`  \n**模型目录：** `{models}`  \n所有数据都不会离开本机：无统计上报，不访问互联网。"
                    "历史记录在保存前已去除身份信息。"},
    "delete_all": {"en": "Delete all my data", "zh": "删除我的全部数据"},
    "deleted_all": {"en": "All history was deleted.", "zh": "已删除全部历史记录。"},
}

EXAMPLES = [
    "A 45-year-old woman leaks urine when she coughs, sneezes or lifts. What would cystometry most likely show, "
    "and what is the first-line treatment?",
    "What is the first-line management of chronic insomnia in a 70-year-old, and which drugs should be avoided?",
    "A 25-year-old has had right lower quadrant pain and fever for 6 days; CT shows a 5 cm periappendiceal "
    "abscess. Operate now or drain first?",
    "女性，45岁，咳嗽、打喷嚏时漏尿。膀胱压力容积测定（cystometry）最可能显示什么？首选治疗是什么？",
    "老年慢性失眠的一线治疗是什么？哪些药物应避免使用？",
    "患者右下腹痛伴发热6天，CT示阑尾周围脓肿5 cm，应立即手术还是先引流？",
]


def t(key: str, lang: str, **kw) -> str:
    s = STRINGS[key]["zh" if lang == "zh" else "en"]
    return s.format(**kw) if kw else s
