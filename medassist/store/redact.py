"""Identifiers out before anything is stored: names, addresses, dates, phones, e-mails, ID/record/insurance numbers,
WeChat IDs and IP addresses are replaced by [LABEL] in English and Chinese text. Clinical numbers stay (doses,
lab values, blood pressures, sample sizes, years, p-values).

    python -m medassist.store.redact "Mr. John Smith, D.O.B. 14/03/1957, MR#123456, call 555.123.4567"

Rules, not a model: they run in microseconds on every history row, export and audit entry, install with
nothing, and their misses can be read. Measured by benchmarks/redaction.py on a hand-labelled set (README).
What they cannot see: a name with no cue (no title, no "patient", not a common given name, not before
先生/女士…), free-text places without a street or road, ages, and rare identifier formats. Every pattern is
linear-time (possessive runs, anchored starts): a 300,000-character draft is redacted in well under a second.
"""
from __future__ import annotations

import re
import sys

# --- numbers that identify ------------------------------------------------------------------

_MONTH = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
_D, _M = r"(?:0?[1-9]|[12]\d|3[01])", r"(?:0?[1-9]|1[0-2])"
NUMBERS: list[tuple[str, str]] = [
    # Possessive runs and a start that cannot be inside a run keep this linear on long text.
    ("EMAIL", r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+"),
    # IPv4 with a first part of two or three digits ("EC 3.1.1.11" is an enzyme number).
    ("IP", r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?![\d.])"),
    # Chinese resident IDs: 18 digits (birth date inside, check digit X) and the old 15-digit form.
    ("ID", r"(?<![\dA-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dA-Za-z])"),
    ("ID", r"(?<![\dA-Za-z])[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![\dA-Za-z])"),
    ("SSN", r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"),
    # Labelled numbers: the label stays, the value goes (group "v").
    ("SSN", r"(?i:\bSSN\b|social security (?:number|no\.?))\s*[:#]?\s*(?P<v>\d[\d -]{7,}\d)"),
    ("MRN", r"(?:(?i:\b(?:MRN\b|MR\s?#|medical record (?:number\b|no\.|no\b)|hospital (?:number\b|no\.|no\b)|"
            r"patient id\b|chart\b|record\b))"
            r"|病历号|住院号|门诊号|病案号)\s*(?:[:：#]|号码|是|为)?\s*(?P<v>(?=#?[\w-]{4})#?(?:[A-Z]{1,4}-?)?\d[\d-]*+(?:[A-Z\d]\b)?)"),  # 4+: not "chart 3"
    ("MRN", r"\bMRN-\d+(?:-\d+)*+"),
    ("INSURANCE", r"(?:(?i:\b(?:insurance|member|policy|medicare|medicaid|NHS|subscriber)\s+(?:id\b|number\b|no\.|no\b|#))"
                  r"|医保卡号|医保号|医保卡|社保卡号|社保号|参保号)\s*(?:[:：#]|码|是|为)?\s*"
                  r"(?P<v>[A-Z0-9](?:-?[A-Z0-9]|\s\d)*+)"),
    ("WECHAT", r"(?:微信号|微信|(?i:wechat(?: id)?))\s*(?:[:：]|是|为)?\s*(?P<v>[A-Za-z][\w-]{4,19})(?![\w-])"),
    # Phones. Chinese mobiles (with or without +86 and separators); landlines and UK numbers starting 0;
    # North American numbers with - or . (not spaces: "120 340 1200" is three sample sizes); international +CC.
    ("PHONE", r"(?<![\d-])(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?![\d-])"),
    ("PHONE", r"(?<![\d.-])0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}(?![\d-]|\.\d)"),
    ("PHONE", r"(?<![\w.-])(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[.-])\d{3}[.-]\d{4}(?![\d-]|\.\d)"),
    ("PHONE", r"(?<![\w+])\+\d{1,3}(?:[ -]\(?\d{1,8}\)?){2,5}(?![\d%]|\.\d)"),  # not "+138%" or "+0.88"
    ("PHONE", r"(?:(?i:\b(?:tel|phone|mobile|cell|fax)\b\.?)|电话|手机|联系方式)\s*(?:[:：]|号码|是|为)?\s*"
              r"(?P<v>\+?\d[\d ()-]{6,}\d)"),
    # Dates with a day (a day, month and year single a person out; a year or a month and year do not).
    # One separator throughout ("1.2-13 years" is a range, "8.3/19" a score).
    ("DATE", rf"(?<![\d.:/-])(?:{_D}(?P<a>[/.-]){_M}(?P=a)(?:19|20)?\d\d|(?:19|20)\d\d(?P<b>[/.-]){_M}(?P=b){_D}|"
             rf"{_M}/{_D}/(?:19|20)\d\d)(?![\d/:-]|\.\d)"),
    ("DATE", rf"\b{_D}(?:st|nd|rd|th)?(?: of)? {_MONTH}\.?,? (?:19|20)\d\d\b"),
    ("DATE", rf"\b{_MONTH}\.? {_D}(?:st|nd|rd|th)?,? (?:19|20)\d\d\b"),
    ("ADDRESS", r"(?:邮编|邮政编码|(?i:\b(?:zip(?: code)?|post ?code)\b))\s*[:：]?\s*(?P<v>\d{5,6})(?!\d)"),
    ("DATE", r"(?:19|20)\d\d\s*年\s*(?:1[0-2]|0?[1-9])\s*月\s*(?:[12]\d|3[01]|0?[1-9])\s*日"),
]

# --- addresses -------------------------------------------------------------------------------

_STREET = (r"(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Drive|Boulevard|Blvd\.?|Way|Court|Ct\.?|Place|"
           r"Terrace|Crescent|Close|Square|Parade|Highway)")
_CITY = r"(?:,\s*(?:\d{4,5}\s+)?[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)"
_POST = (r"(?:,?\s*(?:[A-Z]{2,3}\s+\d{4,5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|\d{4,5}))")
ADDRESSES = [
    ("ADDRESS", rf"\b\d{{1,5}}[A-Z]?\s+(?:[A-Z][a-z]+\s+){{1,3}}{_STREET}(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?"
                rf"(?:{_CITY}{_POST}?){{0,2}}"),
    ("ADDRESS", r"\b\d{1,5}\s+(?:Rue|Via|Calle|Avenida|Boulevard|Avenue)\s+(?:(?:de|du|des|la|del|[A-Z][a-z]+)\s*){1,4}"
                r"(?:,\s*\d{4,5}\s+[A-Z][a-z]+)?"),
    # Chinese: a road, street or lane with its number (弄/号/室 after it); the province, city and district
    # before it are taken by _extend_left.
    ("ADDRESS", r"[\u4e00-\u9fff]{1,10}?(?:路|街|大街|大道|巷|胡同)(?:[一二三四五六七八九十\d]+段)?\d+(?:弄\d+)?号"
                r"(?:\d+(?:室|栋|楼|单元))*"),
]
_LEFT_STOP = set("住址在于是为的：:，,、（(） 家现位和与及从到往")  # 住址, 住在, 现住, 地址是 … end before the place

# --- names -----------------------------------------------------------------------------------

# Common English given names (US SSA and UK ONS top lists), minus words that are also ordinary English words.
GIVEN = set("""James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew Anthony
Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary
Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Patrick Frank Raymond
Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry Douglas Zachary Peter Kyle Noah Ethan Jeremy Walter Christian
Keith Roger Terry Austin Sean Gerald Carl Harold Dylan Arthur Lawrence Jordan Jesse Bryan Billy Bruce Gabriel Joe
Logan Alan Juan Albert Willie Elijah Wayne Randy Vincent Mason Roy Ralph Bobby Russell Bradley Philip Eugene Louis
Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Sandra Margaret Ashley
Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Dorothy Rebecca Sharon Laura Cynthia Amy
Kathleen Angela Shirley Brenda Emma Anna Pamela Nicole Samantha Katherine Christine Helen Debra Rachel Carolyn
Janet Maria Catherine Heather Diane Olivia Julie Joyce Victoria Ruth Virginia Lauren Kelly Christina Joan Evelyn
Judith Andrea Hannah Megan Cheryl Jacqueline Martha Madison Teresa Gloria Sara Janice Ann Kathryn Abigail Sophia
Frances Jean Alice Judy Isabella Julia Denise Beverly Danielle Marilyn Theresa Diana Natalie Brittany Charlotte
Marie Kayla Alexis Lori Rosa Susan Oliver Harry Charlie Amelia Isla Ava Mia Ella Lily Freya Poppy Sophie Jessica
Chloe Lucy Ellie Alfie Leo Archie Oscar Freddie Theo Isaac Lucas Finley Hugo Max Toby Mohammed Muhammad Ahmed Ali
Wei Jun Hui Ming Li Yan Ying Fang Jing Lei Tao Yong Hong Xin Lin Mei Chen Hao Yu Jie Ping""".split())
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sr|Sra|Herr|Frau)\.?"
_CAP = r"[A-Z](?:'[A-Z])?[a-z]+(?:-[A-Z][a-z]+)?"  # Smith, O'Neil, Smith-Jones
_CUE_EN = (r"(?:[Pp]atient|[Pp]t\.?|[Nn]ame|[Hh]usband|[Ww]ife|[Ss]on|[Dd]aughter|[Mm]other|[Ff]ather|[Bb]rother|"
           r"[Ss]ister|[Kk]in|[Cc]ontact|[Aa]ttending|[Nn]urse|[Cc]arer|[Gg]uardian|[Pp]artner|[Ff]riend)")
NAMES_EN = [
    rf"\b{_TITLE}\s+(?P<v>(?:{_CAP}\s+){{0,2}}{_CAP})",  # Mr. John Smith, Dr Emily Clark
    rf"\b{_CUE_EN}:?,?\s+(?P<v>{_CAP}\s+{_CAP})\b",  # patient Mary Johnson, daughter, Susan Miller
    r"\b(?P<v>(?:" + "|".join(sorted(GIVEN)) + rf")\s+{_CAP})\b",  # a common given name and a capitalised word
]
SURNAMES = set("""王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 彭 曾 肖 萧 田 董
袁 潘 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 姚 卢 姜 崔 钟 谭 陆 汪 范 金 石 廖 贾 夏 韦 付 傅 方 白 邹 孟 熊 秦 邱 江 尹
薛 闫 阎 段 雷 侯 龙 史 陶 黎 贺 顾 毛 郝 龚 邵 万 钱 严 覃 武 戴 莫 孔 向 汤 常 温 康 施 文 牛 樊 葛 邢 安 齐 易 乔 伍
庞 颜 倪 庄 聂 章 鲁 岳 翟 殷 詹 申 欧 耿 关 兰 焦 俞 左 柳 甘 祝 包 宁 尚 符 舒 阮 柯 纪 梅 童 凌 毕 单 季 裴 霍 涂 成
苗 谷 盛 曲 翁 冉 骆 蓝 路 游 辛 靳 管 柴 蒙 鲍 华 喻 祁 蒲 房 滕 屈 饶 解 牟 艾 尤 阳 时 穆 农 司 卓 古 吉 缪 简 车 项
连 芦 麦 褚 娄 窦 戚 岑 景 党 宫 费 卜 冷 晏 席 卫 米 柏 宗 瞿 桂 全 佟 应 臧 闵 苟 邬 边 卞 姬 师 和 仇 栾 隋 商 刁 沙
荣 巫 寇 桑 郎 甄 丛 仲 虞 敖 巩 明 佘 池 查 麻 苑 迟 邝 于 欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 令狐""".split())
# Characters that do not start or continue a given name here: grammar, numbers, and what follows 患者 in notes.
_NOT_GIVEN = set("的了在是于因为和与及或等有无未已曾经被将把对男女性患病血热龄度烧危前后期间时日月年岁天次个位名例"
                 "住电话身份证号码手机微信邮箱地址联系出生入院门诊病历医保社参就复行诉述既现主要自今昨")
_CJK = "[\u4e00-\u9fff]"
_CUE_ZH = r"(?:患者|病人|姓名|家属|联系人|女儿|儿子|丈夫|妻子|母亲|父亲|参保人|抄送|联系|请联系|病友|监护人)[:：]?\s*"
_AFTER_ZH = r"(?=先生|女士|医生|护士|主任|教授|老师|同志|（|\(|，男|，女|的|，)"


def _name_zh(text: str) -> list[tuple[int, int]]:
    """Spans of Chinese names: a surname and one or two given characters after a cue (患者, 姓名, 家属 …) or
    before one (先生, 女士, 医生, ，男 …, or 的/，at the start of a sentence)."""
    spans = []
    starts = [(m.end(), True) for m in re.finditer(_CUE_ZH, text)]  # each cue on its own: 患者家属韩梅
    starts += [(m.end(), False) for m in re.finditer(r"(?:^|(?<=[。；;\n！？]))\s*", text)]
    for start, cued in starts:
        cand = text[start:start + 4]
        if not re.match(rf"{_CJK}{{2}}", cand):
            continue
        for sur in (cand[:2], cand[:1]):
            if sur not in SURNAMES:
                continue
            given = ""
            for ch in cand[len(sur):len(sur) + 2]:
                if ch in _NOT_GIVEN or not re.match(_CJK, ch):
                    break
                given += ch
            if not given:
                continue
            end = start + len(sur) + len(given)
            # At a sentence start a name needs a cue after it; after 患者/姓名 the cue before is enough.
            if cued or re.match(_AFTER_ZH, text[end:end + 3]) or text[end:end + 2] in ("先生", "女士", "医生"):
                spans.append((start, end))
            break
    for m in re.finditer(rf"({_CJK}{{1,3}})(?=先生|女士|医生|护士|主任|教授)", text):
        cand = m.group(1)
        for k in range(len(cand)):  # the longest surname-led run before the title: 钱国强主任, 陆先生
            rest = cand[k + 1:]
            if cand[k] in SURNAMES and not (set(rest) & _NOT_GIVEN) and (rest or text[m.end(1):m.end(1) + 2]
                                                                          in ("先生", "女士")):
                spans.append((m.start(1) + k, m.end(1)))
                break
    return spans


_COMPILED = [(label, re.compile(p)) for label, p in NUMBERS + ADDRESSES]
_NAMES_EN = [re.compile(p) for p in NAMES_EN]
# Capitalised words that follow a title or a cue but are not names.
_NOT_NAMES = {"The", "This", "That", "His", "Her", "Their", "And", "With", "Was", "Is", "Has", "Had", "Who", "In",
              "On", "At", "Of", "For", "To", "From", "Emergency", "Department", "Hospital", "Clinic", "Ward", "Unit",
              "Group", "Study", "Trial", "Table", "Figure", "Street", "Road", "Avenue", "Lane"}
# Words that make a capitalised pair an institution or an instrument, not a person: "Henry Ford Hospital",
# "Patient Health Questionnaire", "Eastern Virginia Medical School" (seen in 1,000 PubMed abstracts).
_INSTITUTION = {"Hospital", "Hospitals", "Health", "Medical", "University", "College", "School", "Institute",
                "Memorial", "Center", "Centre", "Clinic", "Foundation", "Mission", "Commonwealth", "Questionnaire",
                "Measure", "Scale", "Score", "Index", "Inventory", "Schedule", "Disease", "Syndrome", "Network",
                "System", "Children", "Activation", "Science", "Sciences", "Research", "Trust", "County", "State"}


def _extend_left(text: str, start: int) -> int:
    """Take the province, city and district before a Chinese street into the address (up to a word such as
    住址, 在 or 是, or punctuation)."""
    i = start
    while i > 0 and start - i < 20 and re.match(_CJK, text[i - 1]) and text[i - 1] not in _LEFT_STOP:
        i -= 1
    return i


def spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, label) of every identifier found, overlapping ones merged (the first found wins)."""
    found: list[tuple[int, int, str]] = []
    for label, pat in _COMPILED:
        for m in pat.finditer(text):
            s, e = m.span("v") if "v" in pat.groupindex and m.group("v") else m.span()
            if label == "ADDRESS" and re.match(_CJK, text[s]):
                # the match may have begun on 住址 or 地址是: start after the last such word, then take the
                # province, city and district before it
                s = max([s] + [k + 1 for k in range(s, e) if text[k] in _LEFT_STOP])
                s = _extend_left(text, s)
            found.append((s, e, label))
    for pat in _NAMES_EN:
        for m in pat.finditer(text):
            s, e = m.span("v")
            words = m.group("v").split()
            after = re.match(r"[\s']*(?:s\s+)?([A-Z][a-z]+)", text[e:e + 30])
            if words[0] in _NOT_NAMES or words[-1] in _NOT_NAMES or set(words) & _INSTITUTION or (
                    after and after.group(1) in _INSTITUTION):
                continue
            found.append((s, e, "NAME"))
    found += [(s, e, "NAME") for s, e in _name_zh(text)]
    found.sort(key=lambda x: (x[0], -(x[1] - x[0])))
    merged: list[tuple[int, int, str]] = []
    for s, e, label in found:
        if merged and s < merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e, merged[-1][2])
            continue
        merged.append((s, e, label))
    return merged


def redact(text: str) -> str:
    """Replace identifiers with [LABEL]; clinical numbers (BP 150/95, HR 104, doses, years) are left alone."""
    if not text:
        return text
    out, last = [], 0
    for s, e, label in spans(text):
        out += [text[last:s], f"[{label}]"]
        last = e
    return "".join(out + [text[last:]])


def main() -> None:
    print(redact(" ".join(sys.argv[1:]) or sys.stdin.read()))


if __name__ == "__main__":
    main()
