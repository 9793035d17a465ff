"""UI strings in Chinese and English. t(key, lang) looks one up; a missing key is a bug (KeyError)."""
from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "title": {"en": "MedAssist", "zh": "MedAssist 医学助手"},
    "subtitle": {"en": "Local medical reasoning assistant", "zh": "本地医学推理助手"},
    "where.local": {"en": "runs on this computer", "zh": "在本机运行"},
    "where.remote": {"en": "runs on the server **{host}** — questions and papers are sent there",
                     "zh": "在服务器 **{host}** 上运行 — 问题和论文会发送到该服务器"},
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
    "penalty": {"en": "Repetition penalty (1 = off; higher = fewer loops)", "zh": "重复惩罚（1 = 关闭；越高越少重复）"},
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
    "src.switch": {"en": "Sources: answer from the NIH reference and my papers", "zh": "来源：依据 NIH 参考资料和我的论文作答"},
    "src.info": {"en": "Passages are shown to the model and cited as [1], [2]; click a number to read it. "
                       "Reference: MedQuAD (NIH consumer-health text, ~2017, CC BY 4.0) — no drug monographs.",
                 "zh": "相关段落提供给模型并以 [1]、[2] 引用；点击编号查看原文。参考资料：MedQuAD（NIH 面向公众的健康文本，约 2017 年，"
                       "CC BY 4.0），不含药品说明书。"},
    "src.title": {"en": "Sources ({n})", "zh": "来源（{n}）"},
    "src.numbers": {"en": "Numbers not found in the sources shown: {numbers}", "zh": "以下数字未见于所示来源：{numbers}"},
    "src.stated": {"en": "{n} of {total} sentences are stated by a source (the model read each against its passage); "
                         "the others carry no citation.",
                   "zh": "{total} 句中有 {n} 句由来源陈述（模型逐句对照段落核对）；其余句子不带引用编号。"},
    "src.similar": {"en": "{n} of {total} sentences are close in meaning to a source; the others carry no citation.",
                    "zh": "{total} 句中有 {n} 句与来源含义相近；其余句子不带引用编号。"},
    "fb.title": {"en": "Correct the last answer (feedback for fine-tuning)", "zh": "纠正上一条回答（用于微调的反馈）"},
    "fb.correction": {"en": "The answer it should have given", "zh": "应给出的回答"},
    "fb.placeholder": {"en": "Written as you would teach it; identifiers are redacted before it is stored.",
                       "zh": "按您希望模型学习的方式书写；保存前会去除身份信息。"},
    "fb.save": {"en": "Save correction", "zh": "保存纠正"},
    "fb.saved": {"en": "Rating saved.", "zh": "评价已保存。"},
    "fb.corrected": {"en": "Correction saved.", "zh": "纠正已保存。"},
    "fb.empty": {"en": "Write the corrected answer first.", "zh": "请先填写纠正后的回答。"},
    "fb.unsaved": {"en": "Only a saved answer can be rated: ask a question first.", "zh": "只能评价已保存的回答：请先提问。"},
    "fb.not_answer": {"en": "Rate the answer itself, not the question.", "zh": "请评价回答本身，而非问题。"},
    "fb.count": {"en": "Feedback collected for fine-tuning: {up} 👍, {down} 👎, {corrections} corrected answers "
                       "(`python -m medassist.store.feedback export feedback.jsonl`).",
                 "zh": "已收集用于微调的反馈：{up} 👍，{down} 👎，{corrections} 条纠正（`python -m medassist.store.feedback export feedback.jsonl`）。"},
    "qa.checking": {"en": "Checking each sentence against its source…", "zh": "正在逐句核对来源…"},
    "src.building": {"en": "The reference is being indexed ({pct}%); until then it is searched by words only.",
                     "zh": "参考资料索引中（{pct}%）；完成前仅按词检索。"},
    "think.loop": {"en": "(Reasoning stopped early: it was repeating itself.)",
                   "zh": "（推理已提前结束：出现重复内容。）"},
    "think.budget": {"en": "(Reasoning reached the thinking budget; raise it in Generation settings for more.)",
                     "zh": "（推理已达到思考预算；可在生成设置中调高。）"},
    "stats": {"en": "first token {ttft:.2f} s · {rate:.1f} tokens/s · {n} tokens",
              "zh": "首个 token {ttft:.2f} 秒 · {rate:.1f} token/秒 · 共 {n} 个 token"},
    "error": {"en": "Something went wrong: {msg}", "zh": "出错了：{msg}"},
    "download_failed": {"en": "The result is shown here, but its download file could not be written ({msg}).",
                        "zh": "结果已显示在此处，但无法生成下载文件（{msg}）。"},
    "nothing_to_export": {"en": "Nothing to export yet.", "zh": "暂无可导出的内容。"},
    "about": {"en": "**Data folder:** `{data}`  \n**Model folder:** `{models}`  \nNo analytics, no internet access: "
                    "nothing leaves this computer except to a model server you add below. OpenAI-compatible API for "
                    "other tools: `{api}`  \n**What is stored, and what redaction covers.** Conversations, summaries, "
                    "the library and exports are written with identifiers replaced by [NAME], [DATE] …: names "
                    "after a title, a role (patient, daughter …) or a common given name, and Chinese names after "
                    "患者/家属/姓名 or before 先生/女士/医生; street addresses; full dates (day, month and year); "
                    "phone numbers; e-mails; national ID, SSN, record, insurance/医保 numbers; WeChat IDs; IP "
                    "addresses (measured: README). **Not covered:** a name with no such cue, ages, places without "
                    "a street, and rare number formats — in uploaded papers too, whose passages are kept (redacted) "
                    "so Q&A can search them. What is on screen is not redacted. Do not paste more than the question "
                    "needs.  \n**Q&A's reference:** MedQuAD — NIH consumer-health text (cancer.gov, GARD, Genetics "
                    "Home Reference, MedlinePlus, NIDDK, NINDS, NHLBI, CDC, NIHSeniorHealth), Ben Abacha & "
                    "Demner-Fushman, BMC Bioinformatics 2019, CC BY 4.0; as those pages read around 2017, no drug "
                    "monographs or guidelines.",
              "zh": "**数据目录：** `{data}`  \n**模型目录：** `{models}`  \n无统计上报，不访问互联网：除发送到您在下方添加的"
                    "模型服务器外，任何数据都不会离开本机。供其他工具使用的 OpenAI 兼容接口：`{api}`  \n**保存什么、脱敏覆盖什么。**"
                    "对话、摘要、文献库和导出文件在写入前将身份信息替换为 [NAME]、[DATE] 等：称谓（先生、Dr 等）、"
                    "角色（患者、家属、姓名等）之后的姓名及常见英文名；详细地址；完整日期（年月日）；电话；电子邮箱；"
                    "身份证号、社会保障号、病历号、医保号；微信号；IP 地址（测量结果见 README）。**不覆盖：**没有上述"
                    "提示词的姓名、年龄、没有街道门牌的地点、少见的号码格式——上传的论文同样如此，其段落（已脱敏）会被保存以便问答检索。"
                    "屏幕上显示的内容不做脱敏。请只输入问题所需的信息。  \n**问答参考资料：** MedQuAD——NIH 面向公众的健康文本"
                    "（cancer.gov、GARD、Genetics Home Reference、MedlinePlus、NIDDK、NINDS、NHLBI、CDC、NIHSeniorHealth），"
                    "Ben Abacha & Demner-Fushman，BMC Bioinformatics 2019，CC BY 4.0；内容约为 2017 年版本，不含药品说明书和指南。"},
    "remote.refused": {"en": "The model server at {host} could not be reached. Is it running, and is the address right?",
                       "zh": "无法连接模型服务器 {host}。请确认服务器正在运行且地址正确。"},
    "remote.timeout": {"en": "The model server at {host} did not answer in time.", "zh": "模型服务器 {host} 响应超时。"},
    "remote.auth": {"en": "The model server at {host} refused the API key.", "zh": "模型服务器 {host} 拒绝了该 API 密钥。"},
    "remote.not_found": {"en": "The model server at {host} does not have that model.", "zh": "模型服务器 {host} 上没有该模型。"},
    "remote.rate_limit": {"en": "The model server at {host} is busy: try again shortly.",
                          "zh": "模型服务器 {host} 繁忙，请稍后再试。"},
    "remote.context": {"en": "This is longer than the model on {host} can read: shorten the question or start a new chat.",
                       "zh": "内容超过了 {host} 上模型的上下文长度：请缩短问题或新建对话。"},
    "remote.bad_request": {"en": "The model server at {host} rejected the request: {detail}",
                           "zh": "模型服务器 {host} 拒绝了请求：{detail}"},
    "remote.server": {"en": "The model server at {host} had an internal error: {detail}",
                      "zh": "模型服务器 {host} 内部错误：{detail}"},
    "remote.broken": {"en": "The connection to the model server at {host} broke off.", "zh": "与模型服务器 {host} 的连接中断。"},
    "models": {"en": "Models", "zh": "模型"},
    "models.current": {"en": "**Answering now:** {model} — {where}", "zh": "**当前回答的模型：** {model} — {where}"},
    "models.none": {"en": "No model is ready yet.", "zh": "尚无可用模型。"},
    "models.choice": {"en": "Model that answers", "zh": "回答问题的模型"},
    "models.this_computer": {"en": "This computer", "zh": "本机"},
    "models.default": {"en": "default model", "zh": "默认模型"},
    "models.use": {"en": "Use this model", "zh": "使用此模型"},
    "models.remove": {"en": "Remove", "zh": "移除"},
    "models.add_server": {"en": "Add a model server (LM Studio, Ollama, llama.cpp, vLLM, a hospital gateway)",
                          "zh": "添加模型服务器（LM Studio、Ollama、llama.cpp、vLLM、医院网关）"},
    "models.url": {"en": "Server address", "zh": "服务器地址"},
    "models.key": {"en": "API key (if the server needs one; stored only on this computer)",
                   "zh": "API 密钥（如服务器需要；仅保存在本机）"},
    "models.test": {"en": "Test connection", "zh": "测试连接"},
    "models.server_model": {"en": "Model on the server", "zh": "服务器上的模型"},
    "models.context": {"en": "Context length (tokens; 0 = what the server says, else 8192)",
                       "zh": "上下文长度（token；0 = 采用服务器提供的值，否则 8192）"},
    "models.save": {"en": "Save and use", "zh": "保存并使用"},
    "models.found": {"en": "✅ Connected to {host}: {n} model(s).", "zh": "✅ 已连接 {host}：{n} 个模型。"},
    "models.saved": {"en": "Now answering: {name}", "zh": "现在回答的模型：{name}"},
    "models.file": {"en": "Add a model file: a .gguf file (from LM Studio or Ollama) or a folder with an ONNX GenAI model",
                    "zh": "添加模型文件：.gguf 文件（来自 LM Studio 或 Ollama）或 ONNX GenAI 模型文件夹"},
    "models.file_path": {"en": "Path on this computer", "zh": "本机路径"},
    "models.file_add": {"en": "Build and add", "zh": "构建并添加"},
    "models.check": {"en": "Check this model (150 medical exam questions)", "zh": "检查此模型（150 道医学考试题）"},
    "models.checking": {"en": "⏳ Checking {model}: {done}/{total} questions", "zh": "⏳ 正在检查 {model}：{done}/{total} 题"},
    "models.building": {"en": "⏳ Building {name}: {stage} {pct}% — {msg}", "zh": "⏳ 正在构建 {name}：{stage} {pct}% — {msg}"},
    "models.busy": {"en": "Wait for the running check or build to finish.", "zh": "请等待正在进行的检查或构建完成。"},
    "models.checks": {"en": "Medical check results (MedMCQA sample, 4 options: chance is 25%)",
                      "zh": "医学检查结果（MedMCQA 样本，4 个选项：随机猜测为 25%）"},
    "models.no_checks": {"en": "No model has been checked yet.", "zh": "尚未检查任何模型。"},
    "models.reference": {"en": "measured by the MedAssist developers", "zh": "由 MedAssist 开发者测得"},
    "delete_all": {"en": "Delete all my data", "zh": "删除我的全部数据"},
    "deleted_all": {"en": "All your data was deleted: conversations, summaries, library, downloads and the audit log.",
                    "zh": "已删除您的全部数据：对话、摘要、文献库、下载文件和审计日志。"},
    "acc.title": {"en": "Accounts (admin)", "zh": "账户管理（管理员）"},
    "acc.name": {"en": "User name", "zh": "用户名"},
    "acc.password": {"en": "Password (8+ characters)", "zh": "密码（至少 8 个字符）"},
    "acc.admin": {"en": "Admin", "zh": "管理员"},
    "acc.add": {"en": "Add or change password", "zh": "添加或修改密码"},
    "acc.remove": {"en": "Remove account", "zh": "删除账户"},
    "acc.none": {"en": "No accounts.", "zh": "没有账户。"},
    "acc.added": {"en": "Saved: {name}.", "zh": "已保存：{name}。"},
    "acc.removed": {"en": "Removed: {name} (their data stays until deleted with `medassist users remove --delete-data`).",
                    "zh": "已删除：{name}（其数据保留，可用 `medassist users remove --delete-data` 删除）。"},
    "acc.unknown": {"en": "No account named {name}.", "zh": "没有名为 {name} 的账户。"},
    "acc.not_self": {"en": "You cannot remove your own account here.", "zh": "不能在此删除您自己的账户。"},
    "acc.not_admin": {"en": "Only an admin can manage accounts.", "zh": "只有管理员可以管理账户。"},
    "delete_all.confirm": {"en": "Delete everything? Conversations, summaries, your library and the audit log are "
                                 "removed for good.",
                           "zh": "确定删除全部数据？对话、摘要、文献库和审计日志将被永久删除。"},
    "delete_all.yes": {"en": "Yes, delete everything", "zh": "是，全部删除"},
    "delete_all.cancel": {"en": "Cancel", "zh": "取消"},
    "store.full": {"en": "The answer is shown but was not saved: the disk is full ({msg}). Free some space; copy "
                         "the answer if you need it.",
                   "zh": "回答已显示但未能保存：磁盘已满（{msg}）。请释放空间；如需保留请复制回答。"},
    "store.locked": {"en": "The answer is shown but was not saved: the history database is in use by another program "
                           "({msg}). Try again in a moment; copy the answer if you need it.",
                     "zh": "回答已显示但未能保存：历史数据库正被其他程序占用（{msg}）。请稍后重试；如需保留请复制回答。"},
    "store.other": {"en": "The answer is shown but was not saved to your history ({msg}). Copy the answer if you "
                          "need it.",
                    "zh": "回答已显示但未能保存到历史记录（{msg}）。如需保留请复制回答。"},
    "lit.upload": {"en": "Papers (PDF, Word, text or Markdown; one or several)", "zh": "论文（PDF、Word、文本或 Markdown；可多篇）"},
    "lit.summary_lang": {"en": "Summary language", "zh": "摘要语言"},
    "lit.summarise": {"en": "Summarise", "zh": "生成摘要"},
    "lit.download_md": {"en": "Download Markdown", "zh": "下载 Markdown"},
    "lit.download_json": {"en": "Download JSON", "zh": "下载 JSON"},
    "lit.ask": {"en": "Ask this paper", "zh": "就本文提问"},
    "lit.ask_placeholder": {"en": "e.g. How many patients were randomised?", "zh": "例如：共随机分配了多少名患者？"},
    "lit.ask_button": {"en": "Ask", "zh": "提问"},
    "lit.nothing": {"en": "Nothing found in the paper for this part.", "zh": "论文中未找到这一部分的内容。"},
    "lit.dropped": {"en": "{n} sentence(s) removed: not verifiable in the paper",
                    "zh": "已删除 {n} 句：无法在原文中核实"},
    "lit.stats": {"en": "{seconds} s ({seconds_per_page} s per page) · {model_calls} model calls · "
                        "{generated_tokens} tokens written",
                  "zh": "用时 {seconds} 秒（每页 {seconds_per_page} 秒）· 调用模型 {model_calls} 次 · 生成 {generated_tokens} 个 token"},
    "lit.no_file": {"en": "Upload a paper first (PDF, Word, text or Markdown).", "zh": "请先上传论文（PDF、Word、文本或 Markdown）。"},
    "lit.not_pdf": {"en": "{name} is not a paper file MedAssist reads. Upload it as .pdf, .docx, .txt or .md.",
                    "zh": "无法读取 {name}：请上传 .pdf、.docx、.txt 或 .md 格式的论文。"},
    "lit.too_big": {"en": "The file is {mb} MB; the limit is {limit} MB.", "zh": "文件大小为 {mb} MB，上限为 {limit} MB。"},
    "lit.reading": {"en": "Reading the PDF…", "zh": "正在读取 PDF…"},
    "lit.indexing": {"en": "Finding the relevant passages in {pages} pages…", "zh": "正在 {pages} 页中查找相关段落…"},
    "lit.skipped": {"en": " · pages without a text layer were skipped: {pages}", "zh": " · 已跳过无文字层的页：{pages}"},
    "lit.writing": {"en": "Writing {field}… ({pct}%)", "zh": "正在撰写“{field}”…（{pct}%）"},
    "lit.summarise_request": {"en": "Summarise the paper {name}", "zh": "总结论文 {name}"},
    "lit.done": {"en": "✅ Done in {seconds} s. Click a page citation to see its passage.",
                 "zh": "✅ 完成，用时 {seconds} 秒。点击页码引用可查看原文段落。"},
    "lit.stopped": {"en": "Stopped after {seconds} s; the parts written so far are kept.",
                    "zh": "已停止（{seconds} 秒），已生成的部分已保留。"},
    "lit.loaded": {"en": "📄 {name}: {pages} pages read. Summarise it, or ask it a question below.",
                   "zh": "📄 {name}：已读取 {pages} 页。可生成摘要，或在下方就本文提问。"},
    "lit.loaded_many": {"en": "📄 {n} papers read: {names}. Summarise them all, or pick one to ask about.",
                        "zh": "📄 已读取 {n} 篇论文：{names}。可全部生成摘要，或选择其中一篇提问。"},
    "lit.paper": {"en": "Paper shown", "zh": "当前论文"},
    "lit.showing": {"en": "📄 {name} ({pages} pages). Ask it a question below.", "zh": "📄 {name}（{pages} 页）。可在下方提问。"},
    "lit.upload_first": {"en": "Upload a paper first, then ask about it.", "zh": "请先上传论文，再提问。"},
    "lit.unverified": {"en": "These numbers are not in the paper; check them: {nums}",
                       "zh": "以下数字在原文中未找到，请核实：{nums}"},
    "out.topic": {"en": "Research question or topic", "zh": "研究问题或主题"},
    "out.type": {"en": "Study type", "zh": "研究类型"},
    "out.journal": {"en": "Target journal style (optional)", "zh": "目标期刊风格（可选）"},
    "out.generate": {"en": "Write outline", "zh": "生成大纲"},
    "out.outline": {"en": "Outline (editable Markdown)", "zh": "大纲（可编辑 Markdown）"},
    "out.export_md": {"en": "Export Markdown", "zh": "导出 Markdown"},
    "out.export_docx": {"en": "Export Word (DOCX)", "zh": "导出 Word（DOCX）"},
    "out.need_topic": {"en": "Type a research question or topic first.", "zh": "请先输入研究问题或主题。"},
    "out.writing": {"en": "Writing the outline…", "zh": "正在生成大纲…"},
    "out.done": {"en": "✅ Done. Edit the outline freely, then export it or ask for references.",
                 "zh": "✅ 完成。可直接编辑大纲，然后导出或获取参考文献建议。"},
    "out.refs": {"en": "References from my library", "zh": "从我的文献库推荐参考文献"},
    "out.library_upload": {"en": "Add papers (PDF) or a BibTeX / RIS file to the library",
                           "zh": "向文献库添加论文（PDF）或 BibTeX / RIS 文件"},
    "out.added": {"en": "{name}: {n} new entries", "zh": "{name}：新增 {n} 条"},
    "out.library_size": {"en": "The library holds {n} entries (papers you uploaded and their references).",
                         "zh": "文献库共 {n} 条（您上传的论文及其参考文献）。"},
    "out.suggest": {"en": "Suggest references for the outline", "zh": "为大纲推荐参考文献"},
    "out.suggestions": {"en": "Suggestions (only entries from your library; untick to leave out)",
                        "zh": "推荐（仅来自您的文献库；取消勾选即排除）"},
    "out.no_suggestions": {"en": "No suggestions: add papers to the library first, or write an outline.",
                           "zh": "暂无推荐：请先向文献库添加论文，或先生成大纲。"},
    "out.because": {"en": "matches", "zh": "对应"},
    "out.check": {"en": "Check a draft against a reporting guideline", "zh": "按报告规范检查稿件"},
    "out.guideline": {"en": "Guideline", "zh": "报告规范"},
    "out.draft": {"en": "Paste the draft here…", "zh": "在此粘贴稿件…"},
    "out.draft_file": {"en": "…or upload it (.txt, .md, .docx, .pdf)", "zh": "…或上传（.txt、.md、.docx、.pdf）"},
    "out.check_button": {"en": "Check draft", "zh": "检查稿件"},

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


def lang_code(value: str | None) -> str:
    """A language radio's value ("中文" / "English") or a code -> "zh" | "en"."""
    return "zh" if value in ("zh", "中文") else "en"


def t(key: str, lang: str, **kw) -> str:
    s = STRINGS[key]["zh" if lang == "zh" else "en"]
    return s.format(**kw) if kw else s


def storage_error_text(e: Exception, lang: str) -> str:
    """A failure to write the user's data folder as one sentence: what happened and that the answer is kept."""
    msg = str(e).lower()
    why = "full" if "full" in msg or getattr(e, "errno", None) == 28 else "locked" if "locked" in msg or "busy" in msg \
        else "other"
    return t(f"store.{why}", lang, msg=str(e) or type(e).__name__)


def error_text(e: Exception, lang: str) -> str:
    """An error as one sentence in the page's language: a model server's failure by its kind, anything else as is."""
    code = getattr(e, "code", None)
    if isinstance(code, str) and f"remote.{code}" in STRINGS:
        return t(f"remote.{code}", lang, host=getattr(e, "host", ""), detail=getattr(e, "detail", ""))
    return t("error", lang, msg=str(e) or type(e).__name__)
