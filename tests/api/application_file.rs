//! The file is the application (issue 12, point 5): the "istanza firmata" must be the PDF the
//! service generated for this application, signed digitally, or the scan of it signed by hand,
//! recognised by the QR code printed on every page.

use crate::{
    helpers::spawn_app,
    public_form::{
        LAWYER_CF, errors_in, lawyer_draft, minimal_pdf, new_draft, ordine, qr_photo, rasterise,
    },
    signing::{Signer, trust},
};

async fn refused(res: reqwest::Response) -> String {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 422, "accepted: {}", errors_in(&body));
    errors_in(&body)
}

#[tokio::test]
async fn a_digitally_signed_application_must_be_its_own_generated_pdf_with_todays_answers() {
    let app = spawn_app().await;
    trust(&app).await;
    let o = ordine(&app, "vallenera").await;
    let d = lawyer_draft(&app, &o).await;
    let other = lawyer_draft(&app, &o).await;
    let lawyer = Signer::new(LAWYER_CF);

    // Any PDF, validly signed by the right lawyer, is not the application.
    let errors = refused(
        d.upload(
            "istanza_firmata",
            "qualsiasi.pdf.p7m",
            lawyer.p7m(&minimal_pdf()),
        )
        .await,
    )
    .await;
    assert!(
        errors.contains(&format!(
            "«qualsiasi.pdf.p7m» è firmato, ma non è il PDF generato per questa istanza (codice {})",
            d.code
        )),
        "{errors}"
    );
    // Another application's PDF, signed, is named as such.
    let theirs = other.application_pdf().await;
    let errors = refused(
        d.upload("istanza_firmata", "altra.pdf.p7m", lawyer.p7m(&theirs))
            .await,
    )
    .await;
    assert!(
        errors.contains(&format!(
            "è il PDF di un'altra istanza (codice {}), non di questa (codice {})",
            other.code, d.code
        )),
        "{errors}"
    );
    // The PDF downloaded before the answers changed is not what is being filed.
    let before = d.application_pdf().await;
    let res = d
        .post("richiedente", &[("kind", "persona"), ("surname", "Rossi")])
        .await;
    assert!(res.status() == 303 || res.status() == 422);
    let errors = refused(
        d.upload("istanza_firmata", "vecchia.pdf.p7m", lawyer.p7m(&before))
            .await,
    )
    .await;
    assert!(
        errors.contains("è il PDF di questa istanza scaricato prima dell'ultima modifica dei dati"),
        "{errors}"
    );
    // Its own PDF, as generated now, signed: accepted.
    let own = d.application_pdf().await;
    let res = d
        .upload("istanza_firmata", "istanza.pdf.p7m", lawyer.p7m(&own))
        .await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{}", errors_in(&body));
    // Changing the answers afterwards asks for a new signature before sending.
    let res = d
        .post(
            "richiedente",
            &[("kind", "persona"), ("surname", "Rossini")],
        )
        .await;
    assert!(res.status() == 303 || res.status() == 422);
    let (_, review) = d.get_text("riepilogo").await;
    assert!(
        review.contains(
            "Dopo il caricamento di «istanza.pdf.p7m» i dati dell&#39;istanza sono stati modificati"
        ) || review.contains(
            "Dopo il caricamento di «istanza.pdf.p7m» i dati dell'istanza sono stati modificati"
        ),
        "{}",
        errors_in(&review)
    );
}

#[tokio::test]
async fn a_scan_signed_by_hand_must_show_the_applications_qr_code() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    let other = new_draft(&app, "vallenera").await;

    // The unsigned PDF itself is not a signed application.
    let errors = refused(
        d.upload("istanza_firmata", "istanza.pdf", d.application_pdf().await)
            .await,
    )
    .await;
    assert!(
        errors.contains("«istanza.pdf» è il PDF dell'istanza non ancora firmato"),
        "{errors}"
    );
    // A scan without the code (a blank page) and a scan of another application.
    let errors = refused(
        d.upload(
            "istanza_firmata",
            "pagina.png",
            rasterise(&minimal_pdf(), "png"),
        )
        .await,
    )
    .await;
    assert!(
        errors.contains(&format!(
            "In «pagina.png» non si legge il codice QR dell'istanza {}",
            d.code
        )),
        "{errors}"
    );
    let errors = refused(
        d.upload("istanza_firmata", "altra.jpg", other.scan("jpeg").await)
            .await,
    )
    .await;
    assert!(
        errors.contains(&format!(
            "«altra.jpg» è la scansione di un'altra istanza (codice {}), non di questa (codice {})",
            other.code, d.code
        )),
        "{errors}"
    );
    // Not an image at all, though it says PNG.
    let mut garbled = b"\x89PNG\r\n\x1a\n".to_vec();
    garbled.extend_from_slice(&[7; 300]);
    let errors = refused(d.upload("istanza_firmata", "rotta.png", garbled).await).await;
    assert!(
        errors.contains("In «rotta.png» non è stato possibile cercare il codice QR dell'istanza: l'immagine non è leggibile"),
        "{errors}"
    );

    // The scan of the printed application (JPEG at 200 dpi) and a photo of its code: accepted.
    let res = d
        .upload("istanza_firmata", "scansione.jpg", d.scan("jpeg").await)
        .await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{}", errors_in(&body));
    let res = d
        .upload("istanza_firmata", "foto.png", qr_photo(&d.code))
        .await;
    assert_eq!(res.status(), 200);
    // A PDF of page images (what a scanner writes) is read too.
    let res = d
        .upload(
            "istanza_firmata",
            "scansione.pdf",
            image_pdf(&d.scan("jpeg").await),
        )
        .await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{}", errors_in(&body));
}

/// A one-page PDF whose page is the JPEG (A4, DCTDecode): what a scanner writes.
fn image_pdf(jpeg: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(jpeg).unwrap();
    let (w, h) = (img.width(), img.height());
    let content = b"q 595 0 0 842 0 0 cm /Im1 Do Q".to_vec();
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>".to_vec(),
        [
            format!("<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n", jpeg.len()).into_bytes(),
            jpeg.to_vec(),
            b"\nendstream".to_vec(),
        ]
        .concat(),
        [
            format!("<< /Length {} >>\nstream\n", content.len()).into_bytes(),
            content,
            b"\nendstream".to_vec(),
        ]
        .concat(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n", i + 1).bytes());
        pdf.extend(body);
        pdf.extend(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    pdf
}
