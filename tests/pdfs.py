"""PDFs made with pymupdf for the tests (nothing from ../shared)."""
import pymupdf

LOREM = ("Patients with heart failure were enrolled from three hospitals and followed for twelve months "
         "while nurses recorded symptoms, weight and medication changes at every visit. ")


def two_column_paper(path, *, injected: str = "", image_page: bool = False):
    doc = pymupdf.open()
    W, H = 595, 842
    p = doc.new_page(width=W, height=H)
    p.insert_text((50, 25), "Journal of Tests 2024; 12:1-3", fontsize=8)  # running header
    p.insert_textbox(pymupdf.Rect(50, 50, 545, 110), "Nurse-led follow-up in heart failure: a cohort study",
                     fontsize=20)
    p.insert_text((50, 136), "Abstract", fontsize=12)
    p.insert_textbox(pymupdf.Rect(50, 140, 545, 260),
                     "Background: Readmissions are common. Methods: A cohort of 120 patients. "
                     "Results: Readmissions fell by 23% (95% CI 10-35%). Conclusions: Nurse-led follow-up helps.",
                     fontsize=10)
    p.insert_text((50, 296), "Introduction", fontsize=12)
    p.insert_textbox(pymupdf.Rect(50, 300, 290, 800), "LEFT column text. " + LOREM * 3 + injected, fontsize=10)
    p.insert_text((305, 296), "Methods", fontsize=12)
    p.insert_textbox(pymupdf.Rect(305, 300, 545, 800), "RIGHT column text. " + LOREM * 3, fontsize=10)
    p.insert_text((290, 830), "1", fontsize=8)  # page number
    if image_page:
        img = doc.new_page(width=W, height=H)
        pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 40, 40), False)
        pix.clear_with(200)
        img.insert_image(pymupdf.Rect(100, 100, 300, 300), pixmap=pix)
    q = doc.new_page(width=W, height=H)
    q.insert_text((50, 25), "Journal of Tests 2024; 12:1-3", fontsize=8)
    q.insert_text((50, 66), "Results", fontsize=12)
    q.insert_textbox(pymupdf.Rect(50, 70, 545, 200), "Readmissions fell from 41 to 18 of 120 patients. " + LOREM,
                     fontsize=10)
    q.insert_text((50, 226), "Conclusions", fontsize=12)
    q.insert_textbox(pymupdf.Rect(50, 230, 545, 300), "Nurse-led follow-up reduced readmissions. " + LOREM, fontsize=10)
    q.insert_text((50, 326), "References", fontsize=12)
    q.insert_textbox(pymupdf.Rect(50, 330, 545, 600),
                     "1. Smith J, Lee K. Heart failure clinics reduce readmission. J Card Fail. 2019;25:100-8. "
                     "doi:10.1016/j.cardfail.2019.01.002\n"
                     "2. Wang L, Chen Y. Telemonitoring after discharge. Eur Heart J. 2021;42(3):300-9.\n"
                     "3. E. Braunwald, \"Shattuck lecture: cardiovascular medicine,\" New England Journal of Medicine, "
                     "vol. 337, pp. 1360-1369, 1997.", fontsize=9)
    q.insert_text((290, 830), "2", fontsize=8)
    doc.save(path)
    return path
